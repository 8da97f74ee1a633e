"""The mixed rush: the last hour before 17:00, driven by locust, p50/p99 per operation.

``--users`` locust users, each the leader of a unit of its own, do for ``--seconds``,
back to back (``--think`` adds a random pause between tasks), tasks weighted as this
bench assumes the last hour looks — mostly saves, the page read again after them,
scanned documents uploaded, and units sending:

- ``save`` (30): PUT /api/v1/assessments/{aid}/entries/{code}, a score and an explanation;
- ``read`` (10): GET /api/v1/campaigns/{cid}/assessments/{unit_code};
- ``upload`` (4): POST …/entries/{code}/evidence, a ~1 MB PDF really signed by a test
  CA in the system's trust list, a byte-distinct copy each time (bench/signed_pdfs.py:
  the evidence service checks a content once, the same bytes again would skip the check);
- ``send`` (1): read the assessment, complete every entry not complete, GET the summary
  PDF, sign it (a signer process of the bench's, as a leader's own computer signs), POST
  /submit, then POST /withdraw so that the unit can go on saving and send again.

The criteria set has 10 criteria, 3 of which need evidence; before the run every
unit's entries are saved once and each of those 3 gets a small signed document, so
that a send can complete every entry. A 503 with Retry-After (the gateway at capacity)
counts as ``refused``, is waited out and sent again, as the web pages do; ``failures``
are any other answer that is not 2xx; ``open`` were sent and had no answer yet when the
run stopped. ``send (whole)`` is the whole sending task.

Locust runs under gevent, which monkey-patches the standard library: it runs in a child
process of its own (``--locust-child``), so gevent never meets the code that starts the
system. That code starts the whole system (tests/system.py on ``--slot``'s ports and
databases, broker vhost ``cchc-bench-mixed`` made anew) and prints, besides, the CPU each process
spent per successful request, as bench/deadline_rush.py does per save.

    .venv/bin/python bench/mixed_rush.py [--users 50] [--seconds 20] [--slot 12]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

# Standard library only at module level: the locust child imports this module before
# gevent patches, and ssl or a thread imported first would stay unpatched.
ROOT = Path(__file__).resolve().parent.parent

VHOST = "cchc-bench-mixed"
LEAVES = [f"{f}.{i}" for f in (1, 2) for i in range(1, 6)]
EVIDENCE_CODES = ["1.1", "1.2", "2.1"]
CLASSIFICATION = "Yếu"
MIXED_SET = {
    "name": "Bộ tiêu chí giờ chót (hỗn hợp)", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 0, "label": CLASSIFICATION}],
    "nodes": [{"code": str(f), "title": f"Lĩnh vực {f}", "max": 5, "children": [
        {"code": f"{f}.{i}", "title": f"Tiêu chí {f}.{i}", "max": 1,
         "rule": {"kind": "range", "step": 0.25},
         "evidence": "required" if f"{f}.{i}" in EVIDENCE_CODES else "none"}
        for i in range(1, 6)]} for f in (1, 2)],
}
WEIGHTS = {"save": 30, "read": 10, "upload": 4, "send": 1}
SCORES = ["0.25", "0.5", "0.75", "1"]
# The order of the table; "send (whole)" is the task, not a request.
OPERATIONS = ["save entry", "read assessment", "upload evidence", "complete entry",
              "summary pdf", "submit", "withdraw"]
SEND = "send (whole)"


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]
              ) -> tuple[str, bytes]:
    """(Content-Type, body) of a multipart/form-data request, as a browser sends it."""
    boundary = uuid.uuid4().hex
    parts = [f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
             f"{value}\r\n".encode() for name, value in fields.items()]
    for name, (filename, data, media_type) in files.items():
        parts.append(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                     f"filename=\"{filename}\"\r\nContent-Type: {media_type}\r\n\r\n".encode()
                     + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


# --- The signer: a process of its own, as a leader's computer ------------------------


def serve_signer(ca_folder: Path) -> None:
    """Signs each PDF framed on stdin with a signer of the bench's CA, framed back on
    stdout. A process of its own: pyhanko holds the GIL for ~0.1 s a signature, which
    inside the locust process would stall every user's clock meanwhile."""
    sys.path.insert(0, str(ROOT))
    from signed_pdfs import load_ca, read_frame, write_frame

    from services.evidence.tests.pki import sign

    signer = load_ca(ca_folder).signer("Chủ tịch UBND xã")
    while (pdf := read_frame(sys.stdin.buffer)) is not None:
        write_frame(sys.stdout.buffer, sign(pdf, signer))


# --- The locust child -------------------------------------------------------------------


def locust_child(config_path: Path) -> None:
    """Runs the users for the configured time and writes what each request got.

    Speaks to the parent on stdout/stdin: ``ready <signer pid>``, then waits for a line
    (the parent's CPU snapshot is taken meanwhile); ``done`` after the run, then waits
    again before stopping the signer, so its CPU is read while it is alive."""
    from gevent import monkey

    monkey.patch_all()
    import gevent
    import gevent.lock
    from locust import FastHttpUser, between, constant, task
    from locust.env import Environment

    sys.path.insert(0, str(ROOT))
    from signed_pdfs import read_frame, variant, write_frame

    config = json.loads(config_path.read_text())
    units: list[dict[str, Any]] = config["units"]
    signed = Path(config["pdf"]).read_bytes()
    copies = itertools.count(1)
    unit_numbers = itertools.count()
    # gevent's subprocess (patched): reads and writes on its pipes yield to the users.
    signer = subprocess.Popen([sys.executable, __file__, "--signer", config["ca"]],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    signing = gevent.lock.Semaphore()

    def sign_pdf(pdf: bytes) -> bytes:
        with signing:
            write_frame(signer.stdin, pdf)
            signed_pdf = read_frame(signer.stdout)
        if signed_pdf is None:
            raise RuntimeError("the signer stopped")
        return signed_pdf

    def problem(response: Any) -> str:
        try:
            return f"{response.status_code} {response.json().get('code')}"
        except Exception:  # not JSON, or no body at all (a connection error: status 0)
            return f"{response.status_code} {getattr(response, 'error', '') or ''}".strip()

    think = float(config["think"])

    class Leader(FastHttpUser):
        host = config["base_url"]
        wait_time = between(0, think) if think else constant(0)
        network_timeout = 60.0
        connection_timeout = 60.0

        def on_start(self) -> None:
            self.unit = units[next(unit_numbers) % len(units)]
            self.seq = 0

        def call(self, method: str, path: str, name: str,
                 headers: dict[str, str] | None = None, **kwargs: Any) -> Any | None:
            """One request, sent again after Retry-After while refused; the response
            when 2xx, else None (the failure is recorded)."""
            while True:
                sent[name] = sent.get(name, 0) + 1
                with self.client.request(method, path, name=name, catch_response=True,
                                         headers={**self.unit["headers"], **(headers or {})},
                                         **kwargs) as response:
                    retry = (response.headers.get("Retry-After")
                             if response.status_code == 503 and response.headers else None)
                    if retry:
                        response.success()  # told apart as refused by the listener
                    elif 200 <= response.status_code < 300:
                        response.success()
                        return response
                    else:
                        response.failure(problem(response))
                        return None
                gevent.sleep(float(retry))

        @property
        def assessment(self) -> str:
            return f"/api/v1/assessments/{self.unit['aid']}"

        @property
        def page(self) -> str:
            return f"/api/v1/campaigns/{self.unit['cid']}/assessments/{self.unit['unit']}"

        @task(WEIGHTS["save"])
        def save(self) -> None:
            self.seq += 1
            code = random.choice(LEAVES)
            body = {"self_score": random.choice(SCORES),
                    "explanation": f"Thuyết minh {code}: văn bản {self.seq}/BC-UBND, mục II"}
            self.call("PUT", f"{self.assessment}/entries/{code}", "save entry", json=body)

        @task(WEIGHTS["read"])
        def read(self) -> None:
            self.call("GET", self.page, "read assessment")

        @task(WEIGHTS["upload"])
        def upload(self) -> None:
            self.seq += 1
            code = random.choice(EVIDENCE_CODES)
            content_type, body = multipart(
                {"doc_number": f"{self.seq}/BC-UBND", "doc_date": "2025-11-20",
                 "title": "Báo cáo CCHC quý IV/2025", "section": "Mục II.1"},
                {"file": ("bao-cao.pdf", variant(signed, next(copies)), "application/pdf")})
            self.call("POST", f"{self.assessment}/entries/{code}/evidence", "upload evidence",
                      headers={"Content-Type": content_type}, data=body)

        @task(WEIGHTS["send"])
        def send(self) -> None:
            sent[SEND] = sent.get(SEND, 0) + 1
            started = time.perf_counter()
            done = self._send()
            self.environment.events.request.fire(
                request_type="TASK", name=SEND, response_time=(time.perf_counter() - started)
                * 1000, response_length=0, response=None, context={},
                exception=None if done else RuntimeError("a step failed"))

        def _send(self) -> bool:
            got = self.call("GET", self.page, "read assessment")
            if got is None:
                return False
            for entry in got.json()["entries"]:
                if entry["status"] != "complete" and self.call(
                        "POST", f"{self.assessment}/entries/{entry['code']}/complete",
                        "complete entry") is None:
                    return False
            pdf = self.call("GET", f"{self.assessment}/summary.pdf", "summary pdf")
            if pdf is None:
                return False
            content_type, body = multipart(
                {"proposed_classification": CLASSIFICATION},
                {"signed_summary": ("bang-tong-hop-da-ky.pdf", sign_pdf(pdf.content),
                                    "application/pdf")})
            if self.call("POST", f"{self.assessment}/submit", "submit",
                         headers={"Content-Type": content_type}, data=body) is None:
                return False
            return self.call("POST", f"{self.assessment}/withdraw", "withdraw") is not None

    stats: dict[str, dict[str, Any]] = {}
    # Requests sent, by name: those with no answer when the run stopped are reported
    # as "open" (locust drops a request its user was stopped in).
    sent: dict[str, int] = {}

    def record(request_type: str, name: str, response_time: float, response_length: int,
               response: Any = None, exception: BaseException | None = None,
               **_: Any) -> None:
        got = stats.setdefault(name, {"ok": [], "failures": {}, "refused": 0})
        status = getattr(response, "status_code", None)
        if status == 503 and response.headers and response.headers.get("Retry-After"):
            got["refused"] += 1
        elif exception is not None:
            key = str(exception)[:100] or type(exception).__name__
            got["failures"][key] = got["failures"].get(key, 0) + 1
        else:
            got["ok"].append(response_time)

    env = Environment(user_classes=[Leader])
    env.events.request.add_listener(record)
    runner = env.create_local_runner()
    print(f"ready {signer.pid}", flush=True)
    sys.stdin.readline()
    began = time.monotonic()
    runner.start(int(config["users"]), spawn_rate=float(config["spawn_rate"]))
    gevent.spawn_later(float(config["seconds"]), runner.quit)
    runner.greenlet.join()
    elapsed = time.monotonic() - began
    # Exceptions raised inside a task (not HTTP answers): locust logs and counts them.
    errors = {f"{e['msg']}"[:200]: e["count"] for e in runner.exceptions.values()}
    Path(config["results"]).write_text(json.dumps(
        {"seconds": elapsed, "operations": stats, "sent": sent, "exceptions": errors}))
    print("done", flush=True)
    sys.stdin.readline()
    signer.stdin.close()
    signer.wait(10)


# --- The parent: the system, the units, the report -------------------------------------


def set_up_units(base_url: str, units: list[tuple[dict[str, str], int]], evidence: bytes
                 ) -> list[dict[str, Any]]:
    """Each unit's campaign and code; every entry saved once with an explanation and the
    criteria that need evidence given a document, so that sending can complete them."""
    import asyncio

    import httpx

    async def one(http: httpx.AsyncClient, gate: asyncio.Semaphore,
                  headers: dict[str, str], aid: int) -> dict[str, Any]:
        async with gate:
            got = await http.get(f"/api/v1/assessments/{aid}", headers=headers)
            got.raise_for_status()
            for code in LEAVES:
                (await http.put(f"/api/v1/assessments/{aid}/entries/{code}", headers=headers,
                                json={"self_score": "1", "explanation": f"Thuyết minh {code}"})
                 ).raise_for_status()
            for code in EVIDENCE_CODES:
                (await http.post(f"/api/v1/assessments/{aid}/entries/{code}/evidence",
                                 headers=headers,
                                 data={"doc_number": "1/KH-UBND", "doc_date": "2025-01-05",
                                       "title": "Kế hoạch CCHC năm 2025", "section": "Mục I"},
                                 files={"file": ("ke-hoach.pdf", evidence, "application/pdf")})
                 ).raise_for_status()
            body = got.json()
            return {"aid": aid, "cid": body["campaign_id"], "unit": body["unit_code"],
                    "headers": headers}

    async def all_units() -> list[dict[str, Any]]:
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            return list(await asyncio.gather(*(one(http, gate, h, a) for h, a in units)))

    return asyncio.run(all_units())


def report(result: dict[str, Any]) -> tuple[list[str], int]:
    """The table's lines, and how many requests succeeded."""
    seconds = result["seconds"]
    operations = result["operations"]

    def percentile(values: list[float], q: float) -> float:
        ordered = sorted(values) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))]

    def line(name: str, ok: list[float], failures: dict[str, int], refused: int,
             sent: int) -> str:
        failed = sum(failures.values())
        return (f"{name:<17} {len(ok):>6} {len(ok) / seconds:>8.1f}"
                f" {percentile(ok, 0.5):>8.1f} {percentile(ok, 0.99):>8.1f}"
                f" {failed:>9} {refused:>8} {sent - len(ok) - failed - refused:>5}")

    lines = [f"{'operation':<17} {'ok':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
             f" {'failures':>9} {'refused':>8} {'open':>5}"]
    sent = result["sent"]
    every: list[float] = []
    failed: dict[str, int] = {}
    refused = 0
    opened = 0
    names = OPERATIONS + sorted(set(operations) - set(OPERATIONS) - {SEND})
    for name in names:
        got = operations.get(name, {"ok": [], "failures": {}, "refused": 0})
        lines.append(line(name, got["ok"], got["failures"], got["refused"], sent.get(name, 0)))
        opened += sent.get(name, 0)
        every += got["ok"]
        refused += got["refused"]
        for reason, count in got["failures"].items():
            failed[f"{name}: {reason}"] = count
    lines.append(line("all requests", every, failed, refused, opened))
    whole = operations.get(SEND, {"ok": [], "failures": {}, "refused": 0})
    lines.append(line(SEND, whole["ok"], whole["failures"], whole["refused"], sent.get(SEND, 0)))
    for reason, count in sorted(failed.items(), key=lambda item: -item[1]):
        lines.append(f"  failure {reason} ×{count}")
    for message, count in result.get("exceptions", {}).items():
        lines.append(f"  exception in a task ×{count}: {message}")
    return lines, len(every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="locust users, one unit each")
    parser.add_argument("--seconds", type=float, default=20.0, help="the run (max 60)")
    parser.add_argument("--spawn-rate", type=float, help="users started a second (all in 1 s)")
    parser.add_argument("--think", type=float, default=0.0,
                        help="at most this many seconds between a user's tasks (0: none)")
    parser.add_argument("--slot", type=int, default=12, help="ports and databases of tests/system")
    parser.add_argument("--locust-child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--signer", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.locust_child:
        locust_child(args.locust_child)
        return
    if args.signer:
        serve_signer(args.signer)
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    """Start the system, set the units up, run the locust child, print the results."""
    sys.path.insert(0, str(ROOT))
    import deadline_rush
    from deadline_rush import cpu_report, prepare
    from evidence_upload import fresh_vhost, measure
    from signed_pdfs import make_ca, save_ca, signed_pdf

    seconds = min(args.seconds, 60.0)  # bounded: the machine is shared
    users = max(1, args.users)
    amqp = fresh_vhost(VHOST)
    work = Path(tempfile.mkdtemp(prefix="cchc-bench-mixed-"))
    ca = make_ca(work / "trust")
    save_ca(ca, work / "ca")
    (work / "upload.pdf").write_bytes(signed_pdf(ca))
    # tests/system.py reads the slot and broker at import; the system copies this
    # environment, so the evidence service trusts the bench's CA.
    os.environ.update({"CCHC_TEST_SLOT": str(args.slot), "CCHC_TEST_AMQP_URI": amqp,
                       "CCHC_EVIDENCE_TRUST_ROOTS": str(work / "trust")})
    from tests.system import System

    system = System(work / "system")
    system.log_dir.mkdir(parents=True)
    child: subprocess.Popen[str] | None = None
    try:
        print(f"starting the system (slot {args.slot}) ...", flush=True)
        system.start()
        # prepare() posts deadline_rush.RUSH_SET, whose criteria need no evidence; this
        # rush lends it its own set for the call.
        rush_set = deadline_rush.RUSH_SET
        deadline_rush.RUSH_SET = MIXED_SET
        try:
            made = prepare(system.base_url, amqp, users)
        finally:
            deadline_rush.RUSH_SET = rush_set
        units = set_up_units(system.base_url, made, signed_pdf(ca, size=20 * 1024))
        config = {"base_url": system.base_url, "units": units, "pdf": str(work / "upload.pdf"),
                  "ca": str(work / "ca"), "users": users, "seconds": seconds,
                  "spawn_rate": args.spawn_rate or users, "think": args.think,
                  "results": str(work / "results.json")}
        (work / "config.json").write_text(json.dumps(config))
        weights = " : ".join(f"{name} {weight}" for name, weight in WEIGHTS.items())
        print(f"{users} users, {seconds:.0f} s, one unit each of {len(LEAVES)} criteria "
              f"({len(EVIDENCE_CODES)} need evidence); tasks weighted {weights}; "
              f"think {args.think:g} s\n", flush=True)

        child = subprocess.Popen([sys.executable, __file__, "--locust-child",
                                  str(work / "config.json")], cwd=ROOT, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert child.stdin is not None and child.stdout is not None

        def expect(word: str) -> str:
            for text in child.stdout:
                if text.startswith(word):
                    return text
            raise RuntimeError(f"the locust child ended before saying {word!r}")

        signer_pid = int(expect("ready").split()[1])
        pids = {name: p.pid for name, p in system.processes.items()}
        pids |= {"bench": os.getpid(), "locust": child.pid, "signer": signer_pid}
        checkers = system.processes["evidence"].pid
        before = measure(pids, checkers)
        child.stdin.write("go\n")
        child.stdin.flush()
        expect("done")
        after = measure(pids, checkers)
        child.stdin.write("bye\n")
        child.stdin.flush()
        child.wait(30)
        lines, succeeded = report(json.loads((work / "results.json").read_text()))
        print("\n".join(lines))
        # "machine" is every process, PostgreSQL and RabbitMQ included; locust and
        # signer are the clients; evidence checkers the signature checks' children.
        print("\n" + cpu_report(before, after, succeeded).replace(
            "per save", "per successful request", 1))
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait(10)
        system.stop()
        # The logs stay, for a failure's cause; the evidence files (~1 MB an upload) go.
        shutil.rmtree(work / "system" / "data", ignore_errors=True)
        print(f"\nlogs of every process: {system.log_dir}")


if __name__ == "__main__":
    main()
