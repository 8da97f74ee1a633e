"""The whole system as separate processes on the real broker and PostgreSQL.

Each service gets a fresh database of its own and every process runs on ports of
its own, so a `make run` on the same machine is left alone.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from services.common.contracts import SERVICE_PORTS, SERVICES

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432")
AMQP = os.environ.get("CCHC_TEST_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/")
SLOT = int(os.environ.get("CCHC_TEST_SLOT", "0"))
PORT_OFFSET = 10000 + 200 * SLOT
DB_PREFIX = f"cchc_t{SLOT}_"


class System:
    def __init__(self, log_dir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.gateway_port = 8000 + PORT_OFFSET
        self.base_url = f"http://127.0.0.1:{self.gateway_port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.env = {
            **os.environ,
            "CCHC_AMQP_URI": AMQP,
            "CCHC_DATABASE_URL_TEMPLATE": f"{PG}/{DB_PREFIX}{{service}}",
            "CCHC_DATA_DIR": str(log_dir / "data"),
            "CCHC_READINESS_TIMEOUT": "1.5",
            **{f"CCHC_{s.upper()}_PORT": str(p + PORT_OFFSET) for s, p in SERVICE_PORTS.items()},
            **(extra_env or {}),
        }

    def create_databases(self) -> None:
        admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for service in SERVICES:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_PREFIX}{service}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{DB_PREFIX}{service}"'))
        admin.dispose()
        self.migrate()

    def migrate(self) -> None:
        subprocess.run([sys.executable, "-m", "services.common.migrate"], env=self.env,
                       cwd=ROOT, check=True, capture_output=True)

    def service_port(self, service: str) -> int:
        return SERVICE_PORTS[service] + PORT_OFFSET

    def start_service(self, service: str) -> None:
        self._spawn(service, [sys.executable, "-m", "services.common.run", service])

    def start_gateway(self) -> None:
        self._spawn("gateway", [sys.executable, "-m", "uvicorn", "gateway.app:app",
                                "--host", "127.0.0.1", "--port", str(self.gateway_port)])

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives with the process
        self.processes[name] = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=log,
                                                stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(10)

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
                if response.status_code == 200:
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
