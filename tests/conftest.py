import asyncio
import itertools
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.rpc import RpcClient
from services.common.contracts import IDENTITY
from tests.system import AMQP, System

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


@pytest.fixture(scope="session")
def system(tmp_path_factory) -> Iterator[System]:
    # Tests rotate keys right after probing made-up kids; the gateway may refetch the
    # realm's keys after a second instead of five. Tokens outlive the longest test run.
    system = System(tmp_path_factory.mktemp("system"),
                    extra_env={"CCHC_JWKS_MIN_REFRESH_SECONDS": "1",
                               "CCHC_ACCESS_TOKEN_SECONDS": "3600",
                               "CCHC_REFRESH_TOKEN_SECONDS": "7200",
                               # Prometheus' test (test_prometheus.py) scrapes every second.
                               "CCHC_GAUGE_INTERVAL": "1"})
    with running(system):
        yield system


@contextmanager
def running(system: System) -> Iterator[System]:
    """Starts the system with its first administrator; stops it however the tests end."""
    try:
        system.start()
        asyncio.run(_ensure_admin())
        yield system
    finally:
        system.stop()


async def _ensure_admin() -> None:
    # The first administrator can only be created from inside, as scripts/demo.py does.
    rpc = RpcClient(AMQP)
    await rpc.connect()
    try:
        await rpc.call(IDENTITY, "ensure_admin", ADMIN_PASSWORD)
    finally:
        await rpc.close()


@pytest.fixture
def http(system: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=system.base_url, timeout=30) as client:
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
