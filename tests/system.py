"""The whole system as separate processes on the real broker and PostgreSQL or SQLite.

Each service gets a fresh database of its own and every process runs on ports of
its own, so a `make run` on the same machine is left alone. ``backend="sqlite"`` gives
every service a SQLite file in the test's folder (the default `make run` backend), on
a broker virtual host and ports of its own, so it runs beside the PostgreSQL one.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from gateway.rpc import RpcClient
from services.common.contracts import SERVICE_PORTS, SERVICES

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432")
AMQP = os.environ.get("CCHC_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
SLOT = int(os.environ.get("CCHC_TEST_SLOT", "0"))
PORT_OFFSET = 10000 + 200 * SLOT
DB_PREFIX = f"cchc_t{SLOT}_"


# The SQLite system's ports sit 100 above the PostgreSQL one's, in the same slot.
SQLITE_PORT_SHIFT = 100


def ensure_vhost(amqp_uri: str) -> None:
    """Creates the URI's virtual host when rabbitmqctl is at hand (scripts/test.sh does too)."""
    vhost = amqp_uri.rsplit("/", 1)[1]
    if not vhost or not shutil.which("rabbitmqctl"):
        return
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*",
                    ".*"], capture_output=True)


def rpc_call(amqp_uri: str, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    """One RPC from a test, over the gateway's own client, on a broker of its choice."""
    async def go() -> Any:
        client = RpcClient(amqp_uri)
        await client.connect()
        try:
            return await client.call(service, method, *args, **kwargs)
        finally:
            await client.close()

    return asyncio.run(go())


class System:
    def __init__(self, log_dir: Path, extra_env: dict[str, str] | None = None,
                 backend: str = "postgresql", port_shift: int | None = None,
                 db_prefix: str = DB_PREFIX) -> None:
        """``port_shift`` and ``db_prefix`` let a test run a further system of its own
        (tests/test_faults.py) beside the session's, on its own ports and databases."""
        self.log_dir = log_dir
        self.backend = backend
        self.db_prefix = db_prefix
        if port_shift is None:
            port_shift = SQLITE_PORT_SHIFT if backend == "sqlite" else 0
        offset = PORT_OFFSET + port_shift
        self.gateway_port = 8000 + offset
        self.base_url = f"http://127.0.0.1:{self.gateway_port}"
        self.amqp = AMQP + "-sqlite" if backend == "sqlite" else AMQP
        self.processes: dict[str, subprocess.Popen] = {}
        env = {k: v for k, v in os.environ.items()
               if not (k == "CCHC_DATABASE_URL_TEMPLATE" or k.endswith("_DATABASE_URL"))}
        if backend == "sqlite":
            databases = {f"CCHC_{s.upper()}_DATABASE_URL": f"sqlite:///{self.sqlite_path(s)}"
                         for s in SERVICES}
        else:
            databases = {"CCHC_DATABASE_URL_TEMPLATE": f"{PG}/{db_prefix}{{service}}"}
        self.env = {
            **env,
            "CCHC_AMQP_URI": self.amqp,
            **databases,
            "CCHC_DATA_DIR": str(log_dir / "data"),
            "CCHC_READINESS_TIMEOUT": "1.5",
            **{f"CCHC_{s.upper()}_PORT": str(p + offset) for s, p in SERVICE_PORTS.items()},
            **(extra_env or {}),
        }

    def sqlite_path(self, service: str) -> Path:
        return self.log_dir / "db" / f"{service}.db"

    def database_url(self, service: str) -> str:
        """Where a service's database is, for tests that look inside it."""
        if self.backend == "sqlite":
            return f"sqlite:///{self.sqlite_path(service)}"
        return f"{PG}/{self.db_prefix}{service}"

    def create_databases(self) -> None:
        if self.backend == "sqlite":
            ensure_vhost(self.amqp)
            (self.log_dir / "db").mkdir(parents=True, exist_ok=True)
            for service in SERVICES:
                self.sqlite_path(service).unlink(missing_ok=True)
            self._migrate()
            return
        admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for service in SERVICES:
                name = f"{self.db_prefix}{service}"
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self._migrate()

    def _migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "services.common.migrate"], env=self.env,
                       cwd=ROOT, check=True, capture_output=True)

    def service_port(self, service: str) -> int:
        return int(self.env[f"CCHC_{service.upper()}_PORT"])

    def start_service(self, service: str) -> None:
        self._spawn(service, [sys.executable, "-m", "services.common.run", service])

    def start_gateway(self) -> None:
        # As the Procfile and the Deployment run it: no access log line per request.
        self._spawn("gateway", [sys.executable, "-m", "uvicorn", "gateway.app:app",
                                "--loop", "uvloop", "--http", "httptools", "--no-access-log",
                                "--host", "127.0.0.1", "--port", str(self.gateway_port)])

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        self.processes[name] = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=log,
                                                stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    def abandoned_connections(self) -> dict[str, float]:
        """Per running service, the database connections its code left to the garbage
        collector (services/common/db.py): any is a bug the tests should have caught."""
        found = {}
        for service in SERVICES:
            if service not in self.processes:
                continue
            try:
                metrics = httpx.get(f"http://127.0.0.1:{self.service_port(service)}/metrics",
                                    timeout=5).text
            except httpx.HTTPError:
                continue  # a test took it down: its count went with it
            for line in metrics.splitlines():
                if line.startswith("cchc_db_connections_abandoned_total "):
                    found[service] = float(line.split()[1])
        return found

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.processes.clear()

    def wait_ready(self, seconds: float = 60) -> dict:
        deadline = time.monotonic() + seconds
        last: object = None
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.base_url}/readyz", timeout=5)
                last = response.json()
                # 200 means this gateway can serve; the system is ready when every
                # service answers too.
                if response.status_code == 200 and last.get("status") == "ready":
                    return last
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.3)
        raise TimeoutError(f"not ready after {seconds}s: {last}")

    def start(self) -> None:
        self.create_databases()
        for service in SERVICES:
            self.start_service(service)
        self.start_gateway()
        self.wait_ready()
