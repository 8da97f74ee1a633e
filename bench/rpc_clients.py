"""How fast can the gateway call a service: async client vs. a pool of nameko proxies.

The two ways NAMEKO-NOTES.md names for an asyncio gateway to call nameko services
without blocking its event loop:

- async: ``gateway.rpc.RpcClient``, nameko's wire protocol on aio-pika, one connection
  and one reply queue shared by every caller;
- threads: a pool of nameko's own blocking ``ClusterRpcProxy``, one per thread, reached
  from the event loop through ``run_in_executor``.

Both call the ``health`` RPC of a real notify process (started here, on a SQLite
database in a temporary folder, its own broker vhost and port) with N concurrent
callers for a fixed time each, and print calls/s, p50/p99 latency, errors and the
ratio async/threads.

    .venv/bin/python bench/rpc_clients.py [--seconds 3] [--concurrency 1,10,50]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from gateway.rpc import RpcClient  # noqa: E402

SERVICE = "notify"
VHOST = "cchc-bench"


@dataclass
class Result:
    calls: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.calls / self.seconds

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def drive(call: Callable[[], Awaitable[Any]], callers: int, seconds: float) -> Result:
    """``callers`` loops calling back to back until the time is up."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def caller() -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += 1
            else:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return Result(len(latencies), errors, time.perf_counter() - started, latencies)


class ProxyPool:
    """nameko's blocking ``ClusterRpcProxy``, one per worker thread (they are not thread-safe)."""

    def __init__(self, amqp_uri: str, size: int) -> None:
        from nameko.standalone.rpc import ClusterRpcProxy

        self.executor = ThreadPoolExecutor(size, thread_name_prefix="rpc")
        self.idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.contexts = []
        for _ in range(size):
            context = ClusterRpcProxy({"AMQP_URI": amqp_uri, "serializer": "json"}, timeout=10)
            self.contexts.append(context)
            self.idle.put(context.start())

    def _call(self, service: str, method: str) -> Any:
        proxy = self.idle.get()
        try:
            return getattr(getattr(proxy, service), method)()
        finally:
            self.idle.put(proxy)

    async def call(self, service: str, method: str) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, self._call, service, method)

    def close(self) -> None:
        for context in self.contexts:
            context.stop()
        self.executor.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_vhost() -> str:
    """A broker vhost of the benchmark's own, so its queues touch nothing else."""
    explicit = os.environ.get("CCHC_BENCH_AMQP_URI")
    if explicit:
        return explicit
    if shutil.which("rabbitmqctl"):
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", VHOST], capture_output=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", VHOST, "guest",
                        ".*", ".*", ".*"], capture_output=True)
        return f"amqp://guest:guest@127.0.0.1:5672/{VHOST}"
    return "amqp://guest:guest@127.0.0.1:5672/"


def start_service(amqp_uri: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "CCHC_AMQP_URI": amqp_uri,
        f"CCHC_{SERVICE.upper()}_DATABASE_URL": f"sqlite:///{workdir / (SERVICE + '.db')}",
        f"CCHC_{SERVICE.upper()}_PORT": str(port),
        "CCHC_DATA_DIR": str(workdir),
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    subprocess.run([sys.executable, "-m", "services.common.migrate", SERVICE], env=env,
                   cwd=ROOT, check=True, capture_output=True)
    log = open(workdir / f"{SERVICE}.log", "wb")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen([sys.executable, "-m", "services.common.run", SERVICE],
                               env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{SERVICE} exited; see {workdir / (SERVICE + '.log')}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process, port
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{SERVICE} not ready in 30 s")


def row(name: str, callers: int, result: Result) -> str:
    return (f"{name:<8} {callers:>7} {result.rate:>9.0f} {result.percentile(0.5):>8.1f}"
            f" {result.percentile(0.99):>8.1f} {result.errors:>6}")


async def run(amqp_uri: str, levels: list[int], seconds: float) -> None:
    client = RpcClient(amqp_uri, timeout=10)
    await client.connect()
    pool = ProxyPool(amqp_uri, max(levels))
    try:
        async def via_async() -> Any:
            return await client.call(SERVICE, "health")

        async def via_threads() -> Any:
            return await pool.call(SERVICE, "health")

        # Warm both paths: connections, reply queues, the service's first worker.
        await drive(via_async, 2, 0.3)
        await drive(via_threads, 2, 0.3)
        print(f"{SERVICE}.health over RabbitMQ, {seconds:g} s per run, "
              f"{os.cpu_count()} CPUs shared by client, broker and service")
        print(f"{'client':<8} {'callers':>7} {'calls/s':>9} {'p50 ms':>8} {'p99 ms':>8}"
              f" {'errors':>6}")
        ratios = []
        for callers in levels:
            fast = await drive(via_async, callers, seconds)
            print(row("async", callers, fast), flush=True)
            slow = await drive(via_threads, callers, seconds)
            print(row("threads", callers, slow), flush=True)
            ratios.append((callers, fast.rate / slow.rate if slow.rate else float("inf")))
        print("async/threads calls/s: " + ", ".join(f"{n} callers {r:.2f}x" for n, r in ratios))
    finally:
        await client.close()
        pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per client and level")
    parser.add_argument("--concurrency", default="1,10,50", help="comma-separated callers")
    args = parser.parse_args()
    levels = [int(n) for n in args.concurrency.split(",")]
    amqp_uri = bench_vhost()
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as tmp:
        process, _ = start_service(amqp_uri, Path(tmp))
        try:
            asyncio.run(run(amqp_uri, levels, args.seconds))
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
