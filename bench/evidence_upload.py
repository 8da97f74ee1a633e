"""Evidence uploads: a signed 1 MB PDF through the system vs a raw S3 PUT plus a check.

Three measurements, one after the other, on one S3 server (moto's, on loopback, in a
process of its own so its CPU is told apart):

- system: ``--clients`` clients (1, then 4) upload a really signed ~1 MB PDF through
  the gateway (multipart streamed into S3, the evidence service's checks: type, the
  window, the signature in a child process, the attachment to the entry) for
  ``--seconds`` each;
- baseline: in ONE process, as many threads each doing a raw S3 PUT of the same bytes
  with the minio SDK and the evidence service's own checker
  (``services.evidence.signatures.check_pdf`` on the file, with the trust list loaded
  as the checker loads it): the least any upload with a signature check can cost;
- saves beside uploads: a stream of saves (PUT entry, ``--save-rate`` a second, sent on
  schedule whatever the answers take) with no upload, then while 4 clients upload; a
  signature check that held up the save path would show in their p99.

Every upload is a different file (``signed_pdfs.variant``): the service checks each
content once, so the same bytes again would skip the check. Every upload must come back
``valid``; anything else counts as an error. It starts the whole system itself
(tests/system.py with ``CCHC_EVIDENCE_STORE=s3``, broker vhost ``cchc-bench-evidence`` anew)
and takes about ``6 * seconds`` plus one to two minutes of setting up.

    .venv/bin/python bench/evidence_upload.py [--seconds 15] [--slot 13] [--save-rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# This checkout's services and tests, not those of the installed copy.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deadline_rush import cpu_report, free_port, p99, prepare, snapshot  # noqa: E402
from signed_pdfs import make_ca, signed_pdf, variant  # noqa: E402

VHOST = "cchc-bench-evidence"
BUCKET = "cchc-bench-evidence"
BASELINE_BUCKET = "cchc-bench-baseline"
UPLOAD = "/api/v1/assessments/{aid}/entries/{code}/evidence"
SAVE = "/api/v1/assessments/{aid}/entries/{code}"
# deadline_rush's criteria set: uploads go to field 1, the saves beside them to field 2
# of the same units (other people of the unit at work), so no row is written by both.
UPLOAD_CODES = [f"1.{i}" for i in range(1, 11)]
SAVE_CODES = [f"2.{i}" for i in range(1, 11)]
Unit = tuple[dict[str, str], int]  # the leader's headers, the assessment id


@dataclass
class Tally:
    """What one run of one kind of request got."""

    name: str
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    refused: int = 0

    def error(self, key: str) -> None:
        self.errors[key] = self.errors.get(key, 0) + 1

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def row(self, first: str) -> str:
        median = statistics.median(self.latencies or [0.0]) * 1000
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        return (f"{first} {self.rate:>9.2f} {median:>9.1f} {p99(self.latencies) * 1000:>9.1f}"
                f" {sum(self.errors.values()):>7} {self.refused:>8}  {detail}")


class Files:
    """Distinct copies of one signed PDF, numbered across threads and runs."""

    def __init__(self, signed: bytes) -> None:
        self.signed = signed
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def next(self) -> bytes:
        with self._lock:
            n = next(self._numbers)
        return variant(self.signed, n)


def clients_label(clients: int) -> str:
    return f"{clients} client{'' if clients == 1 else 's'}"


def _problem(response: httpx.Response) -> str:
    try:
        return f"{response.status_code} {response.json().get('code')}"
    except ValueError:
        return str(response.status_code)


# --- Through the system ----------------------------------------------------------------


async def upload_clients(http: httpx.AsyncClient, units: list[Unit], files: Files,
                         clients: int, stop: float, tally: Tally) -> None:
    """``clients`` clients uploading back to back until ``stop``, client n on unit n."""

    async def client(n: int) -> None:
        headers, aid = units[n % len(units)]
        seq = 0
        while time.monotonic() < stop:
            code = UPLOAD_CODES[seq % len(UPLOAD_CODES)]
            seq += 1
            data = files.next()
            fields = {"doc_number": f"{seq}/BC-UBND", "doc_date": "2025-11-20",
                      "title": "Báo cáo CCHC quý IV/2025", "section": "Mục II.1"}
            started = time.perf_counter()
            try:
                response = await http.post(
                    UPLOAD.format(aid=aid, code=code), headers=headers, data=fields,
                    files={"file": ("bao-cao.pdf", data, "application/pdf")})
            except httpx.HTTPError as exc:
                tally.error(type(exc).__name__)
                continue
            elapsed = time.perf_counter() - started
            if response.status_code == 201:
                state = response.json()["checks"]["signature"]["state"]
                if state == "valid":
                    tally.latencies.append(elapsed)
                else:
                    tally.error(f"signature {state}")
            elif response.status_code == 503 and "Retry-After" in response.headers:
                tally.refused += 1
                await asyncio.sleep(float(response.headers["Retry-After"]))
            else:
                tally.error(_problem(response))

    await asyncio.gather(*(client(n) for n in range(clients)))


async def save_stream(http: httpx.AsyncClient, units: list[Unit], rate: float, stop: float,
                      tally: Tally) -> None:
    """Saves sent on a fixed schedule (open loop): a slow answer does not delay the next
    save, so a stall shows as latency instead of as fewer saves."""
    targets = [(headers, aid, code) for code in SAVE_CODES for headers, aid in units]

    async def save(n: int) -> None:
        headers, aid, code = targets[n % len(targets)]
        body = {"self_score": str((n % 4 + 1) / 4), "explanation": f"Lưu {n}"}
        started = time.perf_counter()
        try:
            response = await http.put(SAVE.format(aid=aid, code=code), json=body,
                                      headers=headers)
        except httpx.HTTPError as exc:
            tally.error(type(exc).__name__)
            return
        if response.status_code == 200:
            tally.latencies.append(time.perf_counter() - started)
        elif response.status_code == 503 and "Retry-After" in response.headers:
            tally.refused += 1
        else:
            tally.error(_problem(response))

    pending: list[asyncio.Task[None]] = []
    at = time.monotonic()
    for n in itertools.count():
        if at >= stop:
            break
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        pending.append(asyncio.create_task(save(n)))
        at += 1 / rate
    await asyncio.gather(*pending)


async def through_system(base_url: str, units: list[Unit], files: Files, clients: int,
                         save_rate: float, seconds: float) -> tuple[Tally, Tally]:
    """Uploads by ``clients`` clients (none: 0) and, when ``save_rate``, the save stream
    beside them, for ``seconds``."""
    uploads = Tally(f"system, {clients_label(clients)}")
    saves = Tally(f"saves, {clients} uploading" if clients else "saves, no uploads")
    limits = httpx.Limits(max_connections=clients + 64)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        began = time.monotonic()
        stop = began + seconds

        async def timed(job: Awaitable[None], tally: Tally) -> None:
            # Each from the start to its own last answer: an upload still running at
            # the stop does not stretch the saves' time, nor the other way round.
            await job
            tally.seconds = time.monotonic() - began

        jobs = []
        if clients:
            jobs.append(timed(upload_clients(http, units, files, clients, stop, uploads),
                              uploads))
        if save_rate:
            jobs.append(timed(save_stream(http, units, save_rate, stop, saves), saves))
        await asyncio.gather(*jobs)
    return uploads, saves


# --- The baseline: one process, a raw S3 PUT and the checker ---------------------------


def baseline(endpoint: str, trust_roots: Path, files: Files, clients: int,
             seconds: float) -> Tally:
    """``clients`` threads of this process, each a PUT of the file to S3 (minio SDK)
    then ``check_pdf`` on it as the evidence service's checker does, back to back."""
    from services.common.tests.stores import s3_client
    from services.evidence.signatures import check_pdf, load_trust_roots

    s3 = s3_client(endpoint)
    if not s3.bucket_exists(BASELINE_BUCKET):
        s3.make_bucket(BASELINE_BUCKET)
    tally = Tally(f"baseline, {clients_label(clients)}")
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        with tempfile.TemporaryDirectory(prefix="cchc-bench-check-") as tmp:
            path = Path(tmp) / "object"
            while time.monotonic() < stop:
                data = files.next()
                started = time.perf_counter()
                s3.put_object(BASELINE_BUCKET, f"sha256/{uuid.uuid4().hex}", io.BytesIO(data),
                              len(data), content_type="application/pdf")
                # The service's checker reads a file (the store's local copy) and loads
                # the trust list at every check; so does this.
                path.write_bytes(data)
                state = check_pdf(path, load_trust_roots(trust_roots))["state"]
                if state == "valid":
                    tally.latencies.append(time.perf_counter() - started)
                else:
                    tally.error(f"signature {state}")

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    tally.seconds = time.monotonic() - began
    return tally


# --- Processes and CPU ---------------------------------------------------------------


def serve_moto(port: int) -> None:
    """moto's S3 on loopback, as the tests run it (services/common/tests/stores.py),
    until terminated."""
    import logging

    from moto.server import ThreadedMotoServer

    # werkzeug logs every request; a line per S3 call would bury the results.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    threading.Event().wait()


def wait_port(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {port}")


def fresh_vhost(vhost: str) -> str:
    """The broker URI to run on: ``CCHC_BENCH_AMQP_URI``, else ``vhost`` made anew with
    rabbitmqctl. Anew, because calls left queued by an earlier run (their callers gone)
    would otherwise be worked off by this run's services first."""
    if "CCHC_BENCH_AMQP_URI" in os.environ:
        return os.environ["CCHC_BENCH_AMQP_URI"]
    if shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest",
                        ".*", ".*", ".*"], capture_output=True)
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


def children_cpu(pid: int) -> float:
    """CPU of ``pid``'s children: those it has waited for (cutime + cstime in /proc) and
    those still running (the evidence service keeps its signature checkers warm), which
    its own figure leaves out."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[13]) + int(fields[14])
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            child = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(child[1]) == pid:
            ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(pids: dict[str, int], checkers: int | None) -> dict[str, float]:
    taken = snapshot(pids)
    if checkers is not None:
        taken["evidence checkers"] = children_cpu(checkers)
    return taken


HEADER = (f"{'':<22} {'uploads/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}"
          f" {'refused':>8}")
SAVES_HEADER = (f"{'':<22} {'saves/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}"
                f" {'refused':>8}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="each run (max 60)")
    parser.add_argument("--clients", default="1,4", help="concurrent uploaders, per run")
    parser.add_argument("--save-rate", type=float, default=20.0,
                        help="saves a second in the stream beside the uploads")
    parser.add_argument("--slot", type=int, default=13, help="ports and databases of tests/system")
    parser.add_argument("--serve-moto", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_moto:
        serve_moto(args.serve_moto)
        return
    seconds = min(args.seconds, 60.0)  # bounded: the machine is shared
    levels = [int(c) for c in args.clients.split(",")]

    amqp = fresh_vhost(VHOST)
    work = Path(tempfile.mkdtemp(prefix="cchc-bench-evidence-"))
    trust_roots = work / "trust"
    ca = make_ca(trust_roots)
    port = free_port()
    moto = subprocess.Popen([sys.executable, __file__, "--serve-moto", str(port)], cwd=ROOT)
    endpoint = f"127.0.0.1:{port}"
    from services.common.tests import stores

    # tests/system.py reads the slot and broker at import; the system copies this
    # environment, so its gateway and evidence service both use the S3 store.
    os.environ.update({
        "CCHC_TEST_SLOT": str(args.slot), "CCHC_TEST_AMQP_URI": amqp,
        "CCHC_EVIDENCE_TRUST_ROOTS": str(trust_roots),
        "CCHC_EVIDENCE_STORE": "s3", "CCHC_EVIDENCE_S3_ENDPOINT": endpoint,
        "CCHC_EVIDENCE_S3_BUCKET": BUCKET, "CCHC_EVIDENCE_S3_ACCESS_KEY": stores.ACCESS_KEY,
        "CCHC_EVIDENCE_S3_SECRET_KEY": stores.SECRET_KEY,
        "CCHC_EVIDENCE_S3_REGION": stores.REGION})
    from tests.system import System

    system = System(work / "system")
    system.log_dir.mkdir(parents=True, exist_ok=True)
    try:
        wait_port(port)
        signed = signed_pdf(ca)
        files = Files(signed)
        print(f"starting the system (slot {args.slot}, S3 = moto on {endpoint}) ...", flush=True)
        system.start()
        units = prepare(system.base_url, amqp, max(levels))
        print(f"a signed PDF of {len(signed):,} bytes, a new copy per upload; {seconds:.0f} s "
              f"per run; saves at {args.save_rate:g}/s\n", flush=True)

        pids = {name: p.pid for name, p in system.processes.items()}
        pids |= {"bench": os.getpid(), "moto": moto.pid}
        checkers = system.processes["evidence"].pid
        own = {"bench": os.getpid(), "moto": moto.pid}
        # (system, baseline, and the CPU per upload of each) per level of clients.
        levels_run: list[tuple[Tally, Tally, str, str]] = []
        for clients in levels:
            before = measure(pids, checkers)
            through, _ = asyncio.run(through_system(system.base_url, units, files, clients,
                                                    0, seconds))
            through_cpu = cpu_report(before, measure(pids, checkers), len(through.latencies))
            before = measure(own, None)
            direct = baseline(endpoint, trust_roots, files, clients, seconds)
            direct_cpu = cpu_report(before, measure(own, None), len(direct.latencies))
            levels_run.append((through, direct, through_cpu, direct_cpu))
        _, alone = asyncio.run(through_system(system.base_url, units, files, 0,
                                              args.save_rate, seconds))
        beside_uploads, beside = asyncio.run(through_system(
            system.base_url, units, files, max(levels), args.save_rate, seconds))

        print(HEADER)
        for through, direct, _, _ in levels_run:
            print(through.row(f"{through.name:<22}"))
            print(direct.row(f"{direct.name:<22}"))
        print()
        for through, direct, _, _ in levels_run:
            ratio = through.rate / direct.rate if direct.rate else float("nan")
            print(f"system / baseline, {direct.name.split(', ')[1]}: {ratio:.2f} (goal >= 0.5)")
        print(f"\n{SAVES_HEADER}")
        print(alone.row(f"{alone.name:<22}"))
        print(beside.row(f"{beside.name:<22}"))
        print(beside_uploads.row(f"{'  (their uploads)':<22}"))
        # "machine" is every process, PostgreSQL and RabbitMQ included; the baseline's
        # own processes are the bench (PUT and check) and moto.
        print()
        for through, direct, through_cpu, direct_cpu in levels_run:
            for tally, report in ((through, through_cpu), (direct, direct_cpu)):
                print(f"{tally.name:<20} {report.replace('per save', 'per upload', 1)}")
    finally:
        system.stop()
        moto.terminate()
        moto.wait(10)
        # The logs stay, for a failure's cause (the files were in moto's memory).
        print(f"\nlogs of every process: {system.log_dir}")


if __name__ == "__main__":
    main()
