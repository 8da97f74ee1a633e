"""The whole public API fuzzed from its own OpenAPI document: never a server error.

schemathesis generates requests for every operation from the schema the gateway
publishes (paths, parameters, bodies), valid and not, and sends them to the real
system, once anonymous and once signed in as each role. Any 5xx fails the test.
Bounded: a few examples per operation and identity, and a deadline for the whole run,
so it stays within a few minutes on the shared 2-core machine.

It runs against a system of its own (own databases, ports and broker vhost): the
fuzzer creates units, accounts and campaigns and changes roles at random, which must
not disturb the session's system the other tests share.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error

from services.common.actor import sign_actor
from services.common.contracts import IDENTITY
from tests.system import AMQP, SLOT, System, ensure_vhost, rpc_call

PORT_SHIFT = 170
ADMIN_PASSWORD = "Quan-tri-fuzz-2026!"
PASSWORD = "Nguoi-dung-fuzz-2026!"
ROLES = ("admin", "unit_leader", "unit_staff", "appraiser", "viewer")
EXAMPLES = 20
# Wall-clock budget of the whole run; operations left when it is spent are not fuzzed
# (and the test says how many were).
BUDGET_SECONDS = 240.0


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory) -> Iterator[tuple[System, dict[str, dict[str, str]]]]:
    base, _, vhost = AMQP.rpartition("/")
    amqp = f"{base}/{vhost or 'cchc'}-fuzz"
    ensure_vhost(amqp)
    system = System(tmp_path_factory.mktemp("fuzz"), port_shift=PORT_SHIFT,
                    db_prefix=f"cchc_t{SLOT}z_",
                    extra_env={"CCHC_AMQP_URI": amqp, "CCHC_ACCESS_TOKEN_SECONDS": "3600",
                               # The fuzzer's wrong passwords must not lock its accounts.
                               "CCHC_LOCKOUT_FAILURES": "100000"})
    try:
        system.start()
        rpc_call(amqp, IDENTITY, "ensure_admin", ADMIN_PASSWORD)
        yield system, _identities(system, amqp)
    finally:
        system.stop()


def _identities(system: System, amqp: str) -> dict[str, dict[str, str]]:
    actor = sign_actor({"username": "fuzz", "roles": ["admin"]})
    rpc_call(amqp, IDENTITY, "upsert_units",
             [{"code": "X-FUZZ", "name": "UBND xã Thử", "type": "commune"}])
    headers: dict[str, dict[str, str]] = {"anonymous": {}}
    with httpx.Client(base_url=system.base_url, timeout=30) as http:
        for role in ROLES:
            username = "admin" if role == "admin" else f"fuzz.{role}"
            if role != "admin":
                rpc_call(amqp, IDENTITY, "create_user", {
                    "username": username, "full_name": f"Thử {role}", "roles": [role],
                    "unit_code": "X-FUZZ" if role.startswith("unit_") else None,
                    "department_code": "SNV" if role == "appraiser" else None,
                }, password=PASSWORD, actor=actor)
            password = ADMIN_PASSWORD if role == "admin" else PASSWORD
            response = http.post("/api/v1/auth/login",
                                 json={"username": username, "password": password})
            assert response.status_code == 200, response.text
            headers[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return headers


def test_no_operation_answers_a_server_error_to_any_role(fuzzed) -> None:
    system, identities = fuzzed
    schema = schemathesis.openapi.from_url(f"{system.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    started = time.monotonic()
    failures: list[str] = []
    skipped = 0
    sent = 0
    for operation in operations:
        if time.monotonic() - started > BUDGET_SECONDS:
            skipped += 1
            continue
        for who, headers in identities.items():
            try:
                sent += _fuzz(operation, system.base_url, headers, who, failures)
            except Unsatisfiable:
                continue
    print(f"\nschemathesis: {len(operations)} operations x {len(identities)} identities, "
          f"{sent} requests in {time.monotonic() - started:.0f}s, {skipped} operations "
          f"past the budget, {len(failures)} server errors")
    assert not failures, "\n".join(failures[:20])
    assert skipped <= len(operations) // 4, "the budget left most of the API unfuzzed"


def _fuzz(operation: Any, base_url: str, headers: dict[str, str], who: str,
          failures: list[str]) -> int:
    sent = 0

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        nonlocal sent
        # The fuzzer's own Authorization would replace the role's token.
        if case.headers:
            case.headers.pop("Authorization", None)
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        sent += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except (Exception, BaseExceptionGroup) as exc:  # collected, reported together
            failures.append(
                f"{who}: {operation.method.upper()} {operation.path}: {response.status_code} "
                f"{response.text[:200]} ({type(exc).__name__}) body="
                f"{str(case.body)[:300]!r} query={case.query!r}")

    run()
    return sent
