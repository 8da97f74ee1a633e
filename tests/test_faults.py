"""Faults while people work: nothing acknowledged is lost, nothing is done twice.

While clients save entries and an admin issues accounts through the gateway, the
submission service, the gateway and notify are killed with SIGKILL in turn and
started again (as the supervisor or a pod would), then the broker itself is killed
and restarted. Afterwards:

- every save answered 200 is in the submission database, and no save is there twice
  (clients retry with their Idempotency-Key, as a browser or script would);
- every event written to an outbox was published, and every account answered 201 got
  exactly one e-mail notice from notify (the event crossed the restarted broker);
- the system is ready again without anyone touching it: services and gateway
  reconnect to the restarted broker by themselves.

The broker is a private RabbitMQ node started for this test (its own node name, ports,
database and logs, no plugins), so the machine's shared broker is never touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from gateway.rpc import RpcClient
from services.common.actor import sign_actor
from services.common.contracts import IDENTITY, NOTIFY, SUBMISSION
from tests.system import PORT_OFFSET, SLOT, System, rpc_call

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
FAULTS_PORT_SHIFT = 150
BROKER_PORT = 5672 + PORT_OFFSET + FAULTS_PORT_SHIFT
ADMIN_PASSWORD = "Quan-tri-loi-2026!"
LEADER_PASSWORD = "Lanh-dao-loi-2026!"
CLIENTS = 4
CODES = [f"1.{i}" for i in range(1, CLIENTS + 1)]
CATALOG = {
    "name": "Bộ tiêu chí thử sự cố 2025", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 0, "label": "Yếu"}],
    "nodes": [{"code": "1", "title": "Lĩnh vực 1", "max": CLIENTS, "children": [
        {"code": code, "title": f"Tiêu chí {code}", "max": 1,
         "rule": {"kind": "range", "step": 0.25}, "evidence": "none"} for code in CODES]}],
}

pytestmark = pytest.mark.skipif(not RABBITMQ_SERVER.exists(), reason="no rabbitmq-server")


class Broker:
    """A RabbitMQ node of this test's own, restartable without touching anyone else's."""

    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port = base, port
        self.uri = f"amqp://guest:guest@127.0.0.1:{port}/"
        self.process: subprocess.Popen[bytes] | None = None
        base.mkdir(parents=True, exist_ok=True)
        (base / "enabled_plugins").write_text("[].\n")  # no management, no prometheus
        (base / "rabbitmq.conf").write_text("loopback_users = none\n")
        self.env = {
            **os.environ,
            "HOME": str(base),  # its own Erlang cookie
            "RABBITMQ_NODENAME": f"cchc-faults-{SLOT}-{uuid.uuid4().hex[:6]}@localhost",
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(port),
            "RABBITMQ_DIST_PORT": str(port + 1),
            "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq"),
            "RABBITMQ_PID_FILE": str(base / "pid"),
        }

    def start(self, seconds: float = 60) -> None:
        log = open(self.base / "server.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen([str(RABBITMQ_SERVER)], env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the test broker exited: see {self.base / 'server.log'}")
            if asyncio.run(self._accepts()):
                return
            time.sleep(0.3)
        raise TimeoutError("the test broker did not start")

    async def _accepts(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
            client = RpcClient(self.uri)
            await client.connect()
            await client.close()
            return True
        except Exception:  # not up yet
            return False

    def kill(self) -> None:
        """A crash: SIGKILL to the node's whole process group."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(30)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(30)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            self.kill()


@pytest.fixture
def faulty(tmp_path_factory) -> Iterator[tuple[System, Broker]]:
    base = tmp_path_factory.mktemp("faults")
    broker = Broker(base / "rabbitmq", BROKER_PORT)
    broker.start()
    system = System(base / "system", port_shift=FAULTS_PORT_SHIFT,
                    db_prefix=f"cchc_t{SLOT}f_",
                    extra_env={"CCHC_AMQP_URI": broker.uri,
                               "CCHC_ACCESS_TOKEN_SECONDS": "3600"})
    (base / "system").mkdir(exist_ok=True)
    try:
        system.start()
        rpc_call(broker.uri, IDENTITY, "ensure_admin", ADMIN_PASSWORD)
        yield system, broker
    finally:
        system.stop()
        broker.stop()
        shutil.rmtree(base / "rabbitmq" / "mnesia", ignore_errors=True)


def _token(http: httpx.Client, username: str, password: str) -> dict[str, str]:
    response = http.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _setup(system: System, broker: Broker) -> tuple[int, dict[str, str], dict[str, str]]:
    with httpx.Client(base_url=system.base_url, timeout=30) as http:
        admin = _token(http, "admin", ADMIN_PASSWORD)
        assert http.post("/api/v1/units", headers=admin, json=[
            {"code": "X-SUCO", "name": "UBND xã Sự Cố", "type": "commune"}]).status_code == 200
        rpc_call(broker.uri, IDENTITY, "create_user",
             {"username": "lanhdao.suco", "full_name": "Lãnh đạo xã", "roles": ["unit_leader"],
              "unit_code": "X-SUCO"}, password=LEADER_PASSWORD,
             actor=sign_actor({"username": "test", "roles": ["admin"]}))
        catalog = http.post("/api/v1/catalogs", headers=admin, json=CATALOG)
        assert catalog.status_code == 201, catalog.text
        now = datetime.now(UTC)
        campaign = http.post("/api/v1/campaigns", headers=admin, json={
            "name": "Đánh giá khi có sự cố", "year": 2025, "catalog_id": catalog.json()["id"],
            "unit_codes": ["X-SUCO"], "windows": {"self_assessment": {
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "locks_at": (now + timedelta(hours=2)).isoformat()}}})
        assert campaign.status_code == 201, campaign.text
        got = http.get(f"/api/v1/campaigns/{campaign.json()['id']}", headers=admin).json()
        aid = got["units"][0]["assessment_id"]
        return aid, admin, _token(http, "lanhdao.suco", LEADER_PASSWORD)


class Clients:
    """People saving and an admin issuing accounts, retrying as real clients do."""

    def __init__(self, base_url: str, aid: int, leader: dict[str, str],
                 admin: dict[str, str]) -> None:
        self.base_url, self.aid, self.leader, self.admin = base_url, aid, leader, admin
        self.stop = threading.Event()
        self.saved: dict[str, str] = {}  # explanation -> code, answered 200
        self.accounts: list[str] = []  # answered 201
        self.attempted_accounts: list[str] = []
        self.failures: Counter[str] = Counter()
        self.lock = threading.Lock()

    def _retrying(self, send: Any) -> httpx.Response | None:
        """Sends until a final answer (not 5xx, not a dropped connection) or the end."""
        while not self.stop.is_set():
            try:
                response = send()
            except httpx.HTTPError as exc:
                with self.lock:
                    self.failures[type(exc).__name__] += 1
                time.sleep(0.3)
                continue
            if response.status_code >= 500:
                with self.lock:
                    self.failures[str(response.status_code)] += 1
                time.sleep(0.3)
                continue
            return response
        return None

    def saver(self, code: str) -> None:
        with httpx.Client(base_url=self.base_url, timeout=15) as http:
            for i in range(1, 100000):
                if self.stop.is_set():
                    return
                key = f"{code}-{i}-{uuid.uuid4().hex[:6]}"
                body = {"self_score": str((i % 5) * 0.25), "explanation": f"lần lưu {key}"}
                response = self._retrying(lambda body=body, key=key: http.put(
                    f"/api/v1/assessments/{self.aid}/entries/{code}", json=body,
                    headers={**self.leader, "Idempotency-Key": key}))
                if response is None:
                    return
                assert response.status_code == 200, response.text
                with self.lock:
                    self.saved[body["explanation"]] = code
                time.sleep(0.05)

    def issuer(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as http:
            for i in range(1, 100000):
                if self.stop.is_set():
                    return
                username = f"suco.{i}.{uuid.uuid4().hex[:6]}"
                self.attempted_accounts.append(username)
                account = {"username": username, "full_name": "Công chức thử",
                           "roles": ["unit_staff"], "unit_code": "X-SUCO",
                           "email": f"{username}@suco.vn"}
                response = self._retrying(lambda account=account: http.post(
                    "/api/v1/users", headers=self.admin, json=account))
                if response is None:
                    return
                # 409 after a retry: the first try went through, its answer was lost.
                assert response.status_code in (201, 409), response.text
                if response.status_code == 201:
                    self.accounts.append(username)
                time.sleep(0.2)


def _wait(predicate: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"not within {seconds}s: {what}")


def test_kills_and_a_broker_restart_lose_no_acknowledged_write(faulty) -> None:
    system, broker = faulty
    aid, admin, leader = _setup(system, broker)
    clients = Clients(system.base_url, aid, leader, admin)
    threads = [threading.Thread(target=clients.saver, args=(code,)) for code in CODES]
    threads.append(threading.Thread(target=clients.issuer))
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        for victim in (SUBMISSION, "gateway", NOTIFY):
            before = len(clients.saved)
            system.kill(victim)
            time.sleep(1)
            (system.start_gateway if victim == "gateway" else
             lambda v=victim: system.start_service(v))()
            system.wait_ready(60)
            _wait(lambda b=before: len(clients.saved) > b + CLIENTS, 30,
                  f"saves go on after {victim} came back")
        before = len(clients.saved)
        broker.kill()
        time.sleep(1)
        broker.start()
        # Nobody restarts anything: every process reconnects on its own.
        system.wait_ready(90)
        _wait(lambda: len(clients.saved) > before + CLIENTS, 60,
              "saves go on after the broker restarted")
        time.sleep(2)
    finally:
        clients.stop.set()
        for thread in threads:
            thread.join(60)
    for name, process in system.processes.items():
        assert process.poll() is None, f"{name} exited"
    print(f"\n{len(clients.saved)} saves and {len(clients.accounts)} accounts acknowledged; "
          f"refused or dropped on the way and retried: {dict(clients.failures)}")
    assert len(clients.saved) > 4 * CLIENTS and clients.accounts

    submission = create_engine(system.database_url(SUBMISSION))
    with submission.connect() as conn:
        changes = conn.execute(text(
            "SELECT after FROM changes WHERE assessment_id = :aid AND action = 'save'"),
            {"aid": aid}).scalars().all()
    explanations = Counter(c["explanation"] for c in changes)
    missing = [e for e in clients.saved if explanations[e] == 0]
    doubled = [e for e, n in explanations.items() if n > 1]
    assert not missing, f"acknowledged saves lost: {missing[:5]}"
    assert not doubled, f"saves applied twice: {doubled[:5]}"

    def outbox_drained(engine: Any) -> bool:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar() == 0

    identity = create_engine(system.database_url(IDENTITY))
    _wait(lambda: outbox_drained(submission) and outbox_drained(identity), 60,
          "every outbox event published")

    with identity.connect() as conn:
        issued = set(conn.execute(text(
            "SELECT username FROM users WHERE username LIKE 'suco.%'")).scalars())
    assert set(clients.accounts) <= issued

    notify = create_engine(system.database_url(NOTIFY))

    def notices() -> Counter[str]:
        with notify.connect() as conn:
            return Counter(conn.execute(text(
                "SELECT username FROM notifications WHERE kind = 'account_created' "
                "AND username LIKE 'suco.%'")).scalars())

    _wait(lambda: set(notices()) >= issued, 90, "a notice for every issued account")
    assert all(n == 1 for n in notices().values()), "a notice sent twice"
    for engine in (submission, identity, notify):
        engine.dispose()
