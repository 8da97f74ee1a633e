"""The deadline rush: N clients saving entries as fast as they can, for a fixed time.

Two runs, one after the other on the same PostgreSQL database and the same rows,
printed side by side, with the CPU time each process spent per save:

- system: through the gateway (token check, RPC to submission, the score from the
  criteria service over RPC, the lock and version checks, history, outbox), the path a
  civil servant's browser takes;
- baseline: one FastAPI process that writes the same rows directly (the window row FOR
  SHARE and the clock check, the entry FOR UPDATE, the update, the history row), with no
  gateway, bus, token or scoring call: what the bare database work costs.

It starts the whole system itself (tests/system.py: every service and the gateway, on a
fresh database per service and the broker vhost ``cchc-bench-rush``), prints saves/s,
p50/p99 latency and errors of each run, stops everything, and takes about
``2 * seconds + 30`` seconds.

    .venv/bin/python bench/deadline_rush.py [--clients 20] [--units 100] [--seconds 8] [--slot 9]

Clients are spread over ``--units`` units, each unit with its own leader and 20 entries:
client n saves, in turn, the entries numbered n, n + clients, n + 2·clients … of all
units' entries, so no two clients ever write the same entry (``--units 1`` is the old
one-unit workload, mostly a measure of row contention). A 503 with Retry-After (the
gateway at capacity) is counted as ``refused``, waited for and sent again, as the web
pages do; ``errors`` are anything else. ``p99 incl. retries`` is what a person waits
for a save that was refused first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VHOST = "cchc-bench-rush"
ADMIN_PASSWORD = "Rush-Quantri-2026!"
LEADER_PASSWORD = "Gio-chot-2026!"
LEAVES = [f"{f}.{i}" for f in (1, 2) for i in range(1, 11)]
RUSH_SET = {
    "name": "Bộ tiêu chí giờ chót", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 0, "label": "Yếu"}],
    "nodes": [{"code": str(f), "title": f"Lĩnh vực {f}", "max": 10, "children": [
        {"code": f"{f}.{i}", "title": f"Tiêu chí {f}.{i}", "max": 1,
         "rule": {"kind": "range", "step": 0.25}, "evidence": "none"}
        for i in range(1, 11)]} for f in (1, 2)],
}


HEADER = (f"{'':<9} {'saves/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'errors':>7}"
          f" {'refused':>8} {'p99 incl. retries':>18}")


def p99(values: list[float]) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


@dataclass
class Run:
    name: str
    seconds: float
    latencies: list[float]  # each accepted save's own request
    waited: list[float]  # each accepted save from its first try, retries included
    errors: dict[str, int]
    refused: int = 0

    def line(self) -> str:
        ok = len(self.latencies)
        median = statistics.median(self.latencies or [0.0])
        errors = sum(self.errors.values())
        detail = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items()))
        return (f"{self.name:<9} {ok / self.seconds:>9.1f} {median * 1000:>9.1f}"
                f" {p99(self.latencies) * 1000:>9.1f} {errors:>7} {self.refused:>8}"
                f" {p99(self.waited) * 1000:>18.1f}  {detail}")


# One entry to save: the path's fill-ins and the headers of its unit's leader.
Target = tuple[dict[str, Any], dict[str, str]]


class Connection:
    """One keep-alive HTTP/1.1 connection, written by hand: the load generator must cost
    little, or it measures itself. httpx spent 3–14 ms of CPU per request here (more
    with more clients), as much as the system's own processes."""

    def __init__(self, base_url: str) -> None:
        host, _, port = base_url.removeprefix("http://").partition(":")
        self.host, self.port = host, int(port or 80)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def put(self, path: str, body: dict[str, Any],
                  headers: dict[str, str]) -> tuple[int, dict[str, str]]:
        """PUT ``body`` as JSON; the answer's status and headers (its body is read, unused)."""
        payload = json.dumps(body).encode()
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (f"PUT {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                   f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
                   f"{head}\r\n").encode() + payload
        for attempt in (1, 2):  # a keep-alive connection the server closed: once more
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(request)
                return await self._answer()
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _answer(self) -> tuple[int, dict[str, str]]:
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            while size := int((await self.reader.readline()).strip() or b"0", 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readline()
        else:
            await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection") == "close":
            await self.close()
        return status, headers

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def rush(name: str, base_url: str, path: str, targets: list[Target], clients: int,
               seconds: float) -> Run:
    latencies: list[float] = []
    waited: list[float] = []
    errors: dict[str, int] = {}
    refused = 0
    stop = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal refused
        # One connection per client, as each civil servant's browser has its own.
        http = Connection(base_url)
        mine = targets[n::clients] or [targets[n % len(targets)]]
        seq = 0
        while time.monotonic() < stop:
            fill, headers = mine[seq % len(mine)]
            seq += 1
            body = {"self_score": str((seq % 4 + 1) / 4), "explanation": f"{name} {n} {seq}"}
            first = time.perf_counter()
            while True:
                started = time.perf_counter()
                answer: dict[str, str] = {}
                try:
                    code, answer = await asyncio.wait_for(
                        http.put(path.format(**fill), body, headers), 30)
                    status = str(code)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    status = type(exc).__name__
                    await http.close()
                if status != "503" or time.monotonic() >= stop:
                    break
                refused += 1
                await asyncio.sleep(float(answer.get("retry-after", "1")))
            if status == "200":
                latencies.append(time.perf_counter() - started)
                waited.append(time.perf_counter() - first)
            elif status != "503":
                errors[status] = errors.get(status, 0) + 1
        await http.close()

    began = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    return Run(name, time.monotonic() - began, latencies, waited, errors, refused)


# --- Where the CPU goes ---------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds spent by everything on the machine (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_report(before: dict[str, float], after: dict[str, float], saves: int) -> str:
    """CPU milliseconds per save of each process, busiest first."""
    used = {name: after[name] - before.get(name, 0.0) for name in after}
    parts = [f"{name} {used[name] * 1000 / max(saves, 1):.1f}"
             for name in sorted(used, key=used.get, reverse=True)]
    return "CPU ms per save: " + ", ".join(parts)


def servers() -> dict[str, list[int]]:
    """The broker's and the database server's processes, by what they run: their CPU is
    most of what a save costs outside our own processes."""
    found: dict[str, list[int]] = {"rabbitmq": [], "postgresql": []}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "comm").read_text().strip()
        except OSError:
            continue
        if command == "beam.smp":
            found["rabbitmq"].append(int(entry.name))
        elif command in ("postgres", "postmaster"):
            found["postgresql"].append(int(entry.name))
    return found


def snapshot(pids: dict[str, int]) -> dict[str, float]:
    taken = {name: cpu_seconds(pid) for name, pid in pids.items()}
    # PostgreSQL starts a backend per connection: those present at either end count.
    for name, group in servers().items():
        taken[name] = sum(cpu_seconds(pid) for pid in group)
    taken["machine"] = machine_busy()
    return taken


def start_profiles(folder: Path, pids: dict[str, int], seconds: float) -> list[subprocess.Popen]:
    """py-spy on the gateway and every service for the run (sampling without pausing
    them, so the numbers beside stay those of an unobserved run, near enough)."""
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return [subprocess.Popen([str(spy), "record", "--nonblocking", "--format", "raw",
                              "--rate", "200", "--duration", str(int(seconds)),
                              "--output", str(folder / f"{name}.txt"), "--pid", str(pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, pid in pids.items() if name != "bench"]


# --- The baseline: one FastAPI process writing the same rows directly ----------------


def baseline_app(database_url: str) -> Any:
    from fastapi import FastAPI, HTTPException
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url, pool_size=20, max_overflow=0)
    app = FastAPI()

    @app.put("/entries/{assessment_id}/{code}")
    def save(assessment_id: int, code: str, body: dict[str, Any]) -> dict[str, Any]:
        with engine.begin() as conn:
            window = conn.execute(text(
                "SELECT w.locks_at, w.opens_at, clock_timestamp() AS now FROM windows w "
                "JOIN assessments a ON a.campaign_id = w.campaign_id "
                "WHERE a.id = :aid AND w.kind = 'self_assessment' FOR SHARE OF w"),
                {"aid": assessment_id}).one()
            if not window.opens_at <= window.now < window.locks_at:
                raise HTTPException(423, "window_locked")
            entry = conn.execute(text(
                "SELECT id, version, score FROM entries WHERE assessment_id = :aid "
                "AND code = :code FOR UPDATE"), {"aid": assessment_id, "code": code}).one()
            conn.execute(text(
                "UPDATE entries SET score = :score, explanation = :note, version = version + 1,"
                " updated_at = clock_timestamp() WHERE id = :id"),
                {"score": body["self_score"], "note": body["explanation"], "id": entry.id})
            conn.execute(text(
                "INSERT INTO changes (assessment_id, code, action, actor, at, before, after) "
                "VALUES (:aid, :code, 'save', 'baseline', clock_timestamp(), "
                "CAST(:before AS JSON), CAST(:after AS JSON))"),
                {"aid": assessment_id, "code": code,
                 "before": f'{{"score": "{entry.score}"}}',
                 "after": f'{{"score": "{body["self_score"]}"}}'})
        return {"version": entry.version + 1}

    return app


def serve_baseline(port: int, database_url: str) -> None:
    import uvicorn

    uvicorn.run(baseline_app(database_url), host="127.0.0.1", port=port, log_level="warning")


# --- Setting the system up -------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(url)


def prepare(base_url: str, amqp: str, units: int) -> list[tuple[dict[str, str], int]]:
    """An admin, ``units`` units each with its leader, the set and a campaign open for an
    hour: (the leader's headers, the unit's assessment id) per unit."""
    from gateway.rpc import RpcClient
    from services.common.contracts import IDENTITY

    async def rpc(service: str, method: str, *args: Any) -> Any:
        client = RpcClient(amqp)
        await client.connect()
        try:
            return await client.call(service, method, *args)
        finally:
            await client.close()

    asyncio.run(rpc(IDENTITY, "ensure_admin", ADMIN_PASSWORD))
    http = httpx.Client(base_url=base_url, timeout=60)

    def login(username: str, password: str) -> dict[str, str]:
        response = http.post("/api/v1/auth/login",
                             json={"username": username, "password": password})
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    admin = login("admin", ADMIN_PASSWORD)
    catalog = http.post("/api/v1/catalogs", headers=admin, json=RUSH_SET)
    catalog.raise_for_status()
    catalog_id = catalog.json()["id"]
    run = uuid.uuid4().hex[:6]
    codes = [f"X-RUSH-{run}-{u:04d}" for u in range(units)]
    http.post("/api/v1/units", headers=admin, json=[
        {"code": code, "name": f"UBND xã Giờ Chót {u + 1}", "type": "commune"}
        for u, code in enumerate(codes)]).raise_for_status()

    async def leaders() -> list[dict[str, str]]:
        # Accounts are made side by side: each costs a password hash or three.
        gate = asyncio.Semaphore(8)
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            async def leader(unit: str) -> dict[str, str]:
                async with gate:
                    username = f"leader.{unit.lower()}"
                    created = await client.post("/api/v1/users", headers=admin, json={
                        "username": username, "full_name": "Lãnh đạo xã",
                        "roles": ["unit_leader"], "unit_code": unit})
                    created.raise_for_status()
                    issued = created.json()["initial_password"]
                    first = await client.post("/api/v1/auth/login", json={
                        "username": username, "password": issued})
                    first.raise_for_status()
                    token = {"Authorization": f"Bearer {first.json()['access_token']}"}
                    (await client.post("/api/v1/auth/password", headers=token, json={
                        "old_password": issued, "new_password": LEADER_PASSWORD})
                     ).raise_for_status()
                    again = await client.post("/api/v1/auth/login", json={
                        "username": username, "password": LEADER_PASSWORD})
                    again.raise_for_status()
                    return {"Authorization": f"Bearer {again.json()['access_token']}"}
            return await asyncio.gather(*(leader(unit) for unit in codes))

    headers = asyncio.run(leaders())
    now = datetime.now(UTC)
    campaign = http.post("/api/v1/campaigns", headers=admin, json={
        "name": "Giờ chót", "year": 2025, "catalog_id": catalog_id, "unit_codes": codes,
        "windows": {"self_assessment": {"opens_at": (now - timedelta(hours=1)).isoformat(),
                                        "locks_at": (now + timedelta(hours=1)).isoformat()}}})
    campaign.raise_for_status()
    got = http.get(f"/api/v1/campaigns/{campaign.json()['id']}", headers=admin).json()
    assessment_of = {u["unit_code"]: u["assessment_id"] for u in got["units"]}
    return [(headers[u], assessment_of[code]) for u, code in enumerate(codes)]


def targets_of(units: list[tuple[dict[str, str], int]], with_headers: bool) -> list[Target]:
    """Every entry of every unit, entry-major: neighbours in the list are other units."""
    return [({"aid": aid, "code": code}, headers if with_headers else {})
            for code in LEAVES for headers, aid in units]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--units", type=int, default=100,
                        help="units the clients are spread over, each with its own entries")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--slot", type=int, default=9, help="ports and databases of tests/system")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="record each process of the system with py-spy during its run "
                             "(collapsed stacks in DIR/<process>.txt, and the top frames)")
    parser.add_argument("--serve-baseline", nargs=2, metavar=("PORT", "DATABASE_URL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), args.serve_baseline[1])
        return
    args.seconds = min(args.seconds, 60.0)  # bounded: the machine is shared

    amqp = os.environ.get("CCHC_BENCH_AMQP_URI", f"amqp://guest:guest@127.0.0.1:5672/{VHOST}")
    if "CCHC_BENCH_AMQP_URI" not in os.environ and shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", VHOST], capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", VHOST, "guest",
                        ".*", ".*", ".*"], capture_output=True)
    os.environ["CCHC_TEST_SLOT"] = str(args.slot)
    os.environ["CCHC_TEST_AMQP_URI"] = amqp
    from tests.system import DB_PREFIX, PG, System

    system = System(Path(tempfile.mkdtemp(prefix="cchc-rush-")))
    baseline: subprocess.Popen | None = None
    try:
        print(f"starting the system (slot {args.slot}) ...", flush=True)
        system.start()
        units = prepare(system.base_url, amqp, max(1, args.units))
        print(f"{args.clients} clients, {args.seconds:.0f} s each run, {len(units)} units of "
              f"{len(LEAVES)} entries each\n", flush=True)
        pids = {name: p.pid for name, p in system.processes.items()}
        pids["bench"] = os.getpid()
        spies = start_profiles(args.profile, pids, args.seconds) if args.profile else []
        before = snapshot(pids)
        through = asyncio.run(rush("system", system.base_url,
                                   "/api/v1/assessments/{aid}/entries/{code}",
                                   targets_of(units, True), args.clients, args.seconds))
        system_cpu = cpu_report(before, snapshot(pids), len(through.latencies))
        for spy in spies:
            spy.wait(30)
        port = free_port()
        baseline = subprocess.Popen(
            [sys.executable, __file__, "--serve-baseline", str(port),
             f"{PG}/{DB_PREFIX}submission"], cwd=ROOT)
        wait_http(f"http://127.0.0.1:{port}/docs")
        pids = {"baseline": baseline.pid, "bench": os.getpid()}
        before = snapshot(pids)
        direct = asyncio.run(rush("baseline", f"http://127.0.0.1:{port}",
                                  "/entries/{aid}/{code}", targets_of(units, False),
                                  args.clients, args.seconds))
        direct_cpu = cpu_report(before, snapshot(pids), len(direct.latencies))
        print(HEADER)
        print(through.line())
        print(direct.line())
        if direct.latencies and through.latencies:
            ratio = (len(through.latencies) / through.seconds) / (
                len(direct.latencies) / direct.seconds)
            print(f"\nsystem / baseline throughput: {ratio:.2f}")
        # "machine" includes PostgreSQL, RabbitMQ and anything else running meanwhile.
        print(f"\nsystem   {system_cpu}\nbaseline {direct_cpu}")
    finally:
        if baseline is not None:
            baseline.terminate()
            baseline.wait(10)
        system.stop()


if __name__ == "__main__":
    main()
