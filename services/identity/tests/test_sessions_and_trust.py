"""Issue 16: sessions that end, a lockout without side doors, actors that are checked."""

import json
import time
from collections.abc import Iterator

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.actor import sign_actor, verified_actor
from services.common.errors import DomainError
from services.conftest import migrated_session
from services.identity.accounts import Accounts, LocalAccounts
from services.identity.config import IdentitySettings
from services.identity.models import AuditEntry, SigningKey, SignInSession, SignInThrottle, User
from services.identity.service import Service

ADMIN = sign_actor({"username": "admin", "roles": ["admin"]})
OIDC = "/realms/cchc/protocol/openid-connect"


@pytest.fixture
def session(sqlite_url) -> Iterator[Session]:
    yield from migrated_session("identity", sqlite_url)


@pytest.fixture
def service(session: Session) -> Service:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    service.create_user({"username": "lan", "full_name": "Lê Thị Lan", "roles": ["viewer"]},
                        password="Good-pass-1", actor=ADMIN)
    return service


def _post(service: Service, endpoint: str, form: dict[str, str]) -> tuple[int, dict]:
    request = Request(EnvironBuilder(method="POST", path=f"{OIDC}/{endpoint}",
                                     data={"client_id": "cchc-gateway", **form}).get_environ())
    handler = service.oidc_token if endpoint == "token" else service.oidc_logout
    response = handler(request, realm="cchc")
    return response.status_code, json.loads(response.data or b"{}")


def _login(service: Service, password: str = "Good-pass-1") -> tuple[int, dict]:
    return _post(service, "token", {"grant_type": "password", "username": "lan",
                                    "password": password})


def _refresh(service: Service, token: str) -> tuple[int, dict]:
    return _post(service, "token", {"grant_type": "refresh_token", "refresh_token": token})


def test_a_refresh_token_works_once_and_its_reuse_ends_the_whole_session(
    service: Service, session: Session
) -> None:
    status, first = _login(service)
    assert status == 200
    status, second = _refresh(service, first["refresh_token"])
    assert status == 200 and second["refresh_token"] != first["refresh_token"]
    # The first token again: someone holds a copy. Refused, and the family is over:
    # the legitimate newest token stops working too.
    status, body = _refresh(service, first["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant")
    status, _ = _refresh(service, second["refresh_token"])
    assert status == 400
    family = session.scalars(select(SignInSession)).one()
    assert family.ended_by == "reuse"
    session.rollback()
    # Another sign-in is another session, untouched.
    status, other = _login(service)
    assert status == 200 and _refresh(service, other["refresh_token"])[0] == 200


def test_logout_kills_the_session_and_a_forged_token_is_refused(service: Service) -> None:
    _, pair = _login(service)
    status, _ = _post(service, "logout", {"refresh_token": pair["refresh_token"]})
    assert status == 204
    assert _refresh(service, pair["refresh_token"])[0] == 400
    status, body = _post(service, "logout", {"refresh_token": pair["refresh_token"][:-4] + "AAAA"})
    assert (status, body["error"]) == (400, "invalid_grant")


def test_the_token_endpoint_counts_every_failed_password_towards_the_lock(
    service: Service, session: Session
) -> None:
    for _ in range(5):
        assert _login(service, "wrong")[0] == 401
    assert session.get(SignInThrottle, "lan").failures == 5
    session.rollback()
    # Locked: the right password does not get through this door either.
    assert _login(service)[0] == 401
    failed = session.scalar(select(func.count()).where(AuditEntry.action == "sign_in_failed"))
    assert failed == 5


def test_a_success_on_the_token_endpoint_clears_the_count(
    service: Service, session: Session
) -> None:
    _login(service, "wrong")
    assert _login(service)[0] == 200
    assert session.get(SignInThrottle, "lan") is None


def test_outside_development_the_client_secret_is_required(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCHC_ENV", "production")
    monkeypatch.setenv("CCHC_SIGNING_KEY_PASSPHRASE", "khoá bí mật")
    status, body = _login(service)
    assert (status, body["error"]) == (401, "invalid_client")
    monkeypatch.setenv("CCHC_KEYCLOAK_CLIENT_SECRET", "s3cret")
    assert _post(service, "token", {"grant_type": "password", "username": "lan",
                                    "password": "Good-pass-1",
                                    "client_secret": "wrong"})[0] == 401
    assert _post(service, "token", {"grant_type": "password", "username": "lan",
                                    "password": "Good-pass-1",
                                    "client_secret": "s3cret"})[0] == 200


def test_outside_development_the_service_refuses_to_start_on_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CCHC_ENV", "production")
    problems = IdentitySettings().production_problems()
    assert len(problems) == 2 and "CLIENT_SECRET" in problems[0]
    with pytest.raises(RuntimeError, match="refuses to start"):
        Accounts().setup()
    monkeypatch.setenv("CCHC_KEYCLOAK_CLIENT_SECRET", "s3cret")
    monkeypatch.setenv("CCHC_SIGNING_KEY_PASSPHRASE", "khoá bí mật")
    with pytest.raises(RuntimeError, match="CCHC_ACTOR_SECRET"):
        Accounts().setup()
    monkeypatch.setenv("CCHC_ACTOR_SECRET", "k" * 32)
    Accounts().setup()


def test_outside_development_an_unencrypted_signing_key_is_refused(
    service: Service, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    environ = Request(EnvironBuilder().get_environ())
    plain = json.loads(service.oidc_certs(environ, realm="cchc").data)["keys"][0]["kid"]
    monkeypatch.setenv("CCHC_ENV", "production")
    monkeypatch.setenv("CCHC_SIGNING_KEY_PASSPHRASE", "khoá bí mật")
    monkeypatch.setenv("CCHC_KEYCLOAK_CLIENT_SECRET", "s3cret")
    kids = [k["kid"] for k in json.loads(service.oidc_certs(environ, realm="cchc").data)["keys"]]
    assert plain not in kids and len(kids) == 1
    assert session.get(SigningKey, kids[0]).private_pem.startswith(
        "-----BEGIN ENCRYPTED PRIVATE KEY-----")


def test_a_generated_bootstrap_password_must_be_changed(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    issued = service.ensure_admin()
    assert issued["created"] and issued["password"]
    assert session.get(User, "admin").must_change_password is True


@pytest.mark.parametrize("actor", [
    None,
    {"username": "mallory", "roles": ["admin"]},  # unsigned, as anyone on the bus could send
    {**ADMIN, "roles": ["admin", "viewer"]},  # signed, then changed
    sign_actor({"username": "admin", "roles": ["admin"]}, ttl=-1),  # expired
])
def test_privileged_calls_refuse_an_actor_the_gateway_did_not_sign(
    service: Service, session: Session, actor: dict | None
) -> None:
    with pytest.raises(DomainError) as err:
        service.create_user({"username": "x1", "full_name": "X", "roles": ["admin"]},
                            actor=actor)
    assert (err.value.code, err.value.status) == ("actor_unverified", 401)
    with pytest.raises(DomainError):
        service.create_users([{"username": "x2", "full_name": "X", "roles": ["admin"]}],
                             actor=actor)
    with pytest.raises(DomainError):
        service.set_roles("lan", ["admin"], actor=actor)
    assert session.get(User, "x1") is None and session.get(User, "x2") is None
    assert session.get(User, "lan").roles == ["viewer"]


def test_a_signed_actor_without_the_admin_role_is_403(service: Service) -> None:
    viewer = sign_actor({"username": "lan", "roles": ["viewer"]})
    with pytest.raises(DomainError) as err:
        service.set_roles("lan", ["admin"], actor=viewer)
    assert (err.value.code, err.value.status) == ("forbidden_role", 403)


def test_verified_actor_checks_expiry_against_the_clock() -> None:
    signed = sign_actor({"username": "a", "roles": ["admin"]}, ttl=10)
    assert verified_actor(signed, roles=["admin"]) == {"username": "a", "roles": ["admin"]}
    with pytest.raises(DomainError):
        verified_actor(signed, now=time.time() + 11)


@pytest.mark.parametrize("field", ["unit_code", "department_code", "email", "zalo_phone"])
def test_a_field_longer_than_its_column_is_invalid_input(service: Service, field: str) -> None:
    with pytest.raises(DomainError) as err:
        service.create_users([{"username": "dai", "full_name": "D", "roles": ["viewer"],
                               field: "x" * 201}], actor=ADMIN)
    assert err.value.code == "invalid_input"
