import asyncio
import itertools
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.rpc import RpcClient
from services.common.contracts import IDENTITY
from services.evidence.tests.pki import CA, sign
from services.notify.devservers.smtp import DevSmtp
from services.notify.devservers.zns import DevZns
from tests.system import AMQP, PORT_OFFSET, System

ADMIN_PASSWORD = "Quan-tri-2026!"
USER_PASSWORD = "Changed-pass-2026"
_serial = itertools.count(1)

# Evidence: the system's trust list is a folder the tests write their CA into (the
# service reads it again when it changes), and the size limit lets a 50 MB upload
# through so its memory can be measured.
EVIDENCE_TRUST_ROOTS = Path(tempfile.mkdtemp(prefix="cchc-trust-"))
EVIDENCE_MAX_BYTES = 60 * 1024 * 1024
os.environ["CCHC_EVIDENCE_TRUST_ROOTS"] = str(EVIDENCE_TRUST_ROOTS)
os.environ["CCHC_EVIDENCE_MAX_BYTES"] = str(EVIDENCE_MAX_BYTES)


# Tests rotate keys right after probing made-up kids; the gateway may refetch the
# realm's keys after a second instead of five. Tokens outlive the longest test run.
# Prometheus' test (test_prometheus.py) scrapes every second, so gauges follow as fast.
SYSTEM_ENV = {"CCHC_JWKS_MIN_REFRESH_SECONDS": "1",
              "CCHC_ACCESS_TOKEN_SECONDS": "3600",
              "CCHC_REFRESH_TOKEN_SECONDS": "7200",
              # Notify retries after a second and takes a dead sender's lease back after
              # five; it sends to the loopback SMTP and ZNS servers below.
              "CCHC_NOTIFY_RETRY_BASE_SECONDS": "1",
              "CCHC_NOTIFY_RETRY_CAP_SECONDS": "2",
              "CCHC_SMTP_TIMEOUT": "1",
              "CCHC_ZALO_TIMEOUT": "1",
              "CCHC_NOTIFY_LEASE_SECONDS": "5",
              "CCHC_NOTIFY_DELIVERY_INTERVAL": "0.2",
              # Each sender holds a database connection while it works: two per channel
              # keep notify's share of a PostgreSQL shared by many test runs small.
              "CCHC_SMTP_CONNECTIONS": "2",
              "CCHC_ZALO_CONNECTIONS": "2",
              "CCHC_GAUGE_INTERVAL": "1"}


@pytest.fixture(scope="session")
def smtp() -> Iterator[DevSmtp]:
    """The SMTP server notify sends to, on loopback: ``smtp.messages`` is what arrived."""
    box = DevSmtp("127.0.0.1", 2525 + PORT_OFFSET).start()
    yield box
    box.stop()


@pytest.fixture(scope="session")
def zns() -> Iterator[DevZns]:
    """The ZNS-compatible server notify sends Zalo messages to, on loopback."""
    server = DevZns("127.0.0.1", 8026 + PORT_OFFSET).start()
    yield server
    server.stop()


def notify_servers(smtp: DevSmtp, zns: DevZns) -> dict[str, str]:
    """The environment that points notify at the loopback SMTP and ZNS servers."""
    return {"CCHC_SMTP_PORT": str(smtp.port),
            "CCHC_ZALO_API_URL": f"http://127.0.0.1:{zns.port}",
            "CCHC_ZALO_OAUTH_URL": f"http://127.0.0.1:{zns.port}"}


def running(system: System) -> Iterator[System]:
    """Starts the system with its first administrator; stops it however the tests end."""
    try:
        system.start()
        asyncio.run(_ensure_admin(system.amqp))
        yield system
        left = {service: n for service, n in system.abandoned_connections().items() if n}
        assert not left, f"database connections left to the garbage collector: {left}"
    finally:
        system.stop()


@pytest.fixture(scope="session")
def system(tmp_path_factory, smtp: DevSmtp, zns: DevZns) -> Iterator[System]:
    yield from running(System(tmp_path_factory.mktemp("system"),
                              extra_env={**SYSTEM_ENV, **notify_servers(smtp, zns)}))


@pytest.fixture(scope="session")
def sqlite_system(tmp_path_factory, smtp: DevSmtp, zns: DevZns) -> Iterator[System]:
    """The same processes on SQLite files (the `make run` default), started only for the
    tests parametrized over both backends (``BOTH_BACKENDS``)."""
    yield from running(System(tmp_path_factory.mktemp("system-sqlite"),
                              extra_env={**SYSTEM_ENV, **notify_servers(smtp, zns)},
                              backend="sqlite"))


# ``@BOTH_BACKENDS`` on a test runs it against the PostgreSQL and the SQLite system.
BOTH_BACKENDS = pytest.mark.parametrize("current_system", ["postgresql", "sqlite"],
                                        indirect=True)


@pytest.fixture
def current_system(request: pytest.FixtureRequest) -> System:
    """The system the test's HTTP client speaks to: PostgreSQL unless parametrized."""
    backend = getattr(request, "param", "postgresql")
    return request.getfixturevalue("sqlite_system" if backend == "sqlite" else "system")


async def _ensure_admin(amqp: str = AMQP) -> None:
    # The first administrator can only be created from inside, as scripts/demo.py does.
    rpc = RpcClient(amqp)
    await rpc.connect()
    try:
        await rpc.call(IDENTITY, "ensure_admin", ADMIN_PASSWORD)
    finally:
        await rpc.close()


@pytest.fixture
def http(current_system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=current_system.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def login(http: httpx.Client) -> Callable[[str, str], dict[str, str]]:
    """``login(username, password) -> headers`` through POST /api/v1/auth/login."""

    def _login(username: str, password: str) -> dict[str, str]:
        response = http.post("/api/v1/auth/login",
                             json={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return bearer(response.json()["access_token"])

    return _login


@pytest.fixture
def admin_headers(login: Callable[[str, str], dict[str, str]]) -> dict[str, str]:
    """A fresh admin token for each test, so no test outlives a token's lifetime."""
    return login("admin", ADMIN_PASSWORD)


@pytest.fixture
def make_user(
    http: httpx.Client, admin_headers: dict[str, str]
) -> Callable[..., tuple[str, dict[str, str]]]:
    """``make_user(roles, unit_code=None, department_code=None) -> (username, headers)``.

    Creates the account through the admin API, changes the issued password as a
    person must at first sign-in, and returns headers with the new token.
    """

    def _make(
        roles: str | list[str], unit_code: str | None = None, department_code: str | None = None,
        full_name: str = "Người dùng thử",
    ) -> tuple[str, dict[str, str]]:
        roles = [roles] if isinstance(roles, str) else list(roles)
        username = f"u{next(_serial)}.{uuid.uuid4().hex[:8]}"
        created = http.post("/api/v1/users", headers=admin_headers, json={
            "username": username, "full_name": full_name, "roles": roles,
            "unit_code": unit_code, "department_code": department_code,
        })
        assert created.status_code == 201, created.text
        issued = created.json()["initial_password"]
        first = http.post("/api/v1/auth/login", json={"username": username, "password": issued})
        assert first.status_code == 200, first.text
        changed = http.post("/api/v1/auth/password", headers=bearer(first.json()["access_token"]),
                            json={"old_password": issued, "new_password": USER_PASSWORD})
        assert changed.status_code == 200, changed.text
        return username, bearer(changed.json()["access_token"])

    return _make


@pytest.fixture
def unit(http: httpx.Client, admin_headers: dict[str, str]) -> Callable[[], str]:
    """``unit() -> code``: a new commune through POST /api/v1/units."""

    def make() -> str:
        code = f"X-{uuid.uuid4().hex[:8]}"
        response = http.post("/api/v1/units", headers=admin_headers,
                             json=[{"code": code, "name": f"UBND xã Hương Vinh {code}",
                                    "type": "commune"}])
        assert response.status_code in (200, 201), response.text
        return code

    return make


@pytest.fixture(scope="session")
def trusted_ca() -> CA:
    """A CA whose root is in the system's trust list (EVIDENCE_TRUST_ROOTS)."""
    ca = CA("CA thử nghiệm của tỉnh")
    ca.write_pem(EVIDENCE_TRUST_ROOTS, f"session-{uuid.uuid4().hex[:6]}.pem")
    return ca


@pytest.fixture
def signed_summary(
    http: httpx.Client, trusted_ca: CA
) -> Callable[..., tuple[str, bytes, str]]:
    """``signed_summary(aid, headers) -> (name, bytes, type)``: the summary this system
    generates for the assessment now, digitally signed as a leader signs it, ready to
    send as the ``signed_summary`` file of POST /assessments/{aid}/submit."""

    def make(aid: int, headers: dict[str, str], signer: CA | None = None) -> tuple[str, bytes, str]:
        pdf = http.get(f"/api/v1/assessments/{aid}/summary.pdf", headers=headers)
        assert pdf.status_code == 200, pdf.text
        signed = sign(pdf.content, (signer or trusted_ca).signer("Chủ tịch UBND xã"))
        return ("bang-tong-hop-da-ky.pdf", signed, "application/pdf")

    return make
