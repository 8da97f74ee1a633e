import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from jwcrypto import jwk, jwt
from nameko.testing.services import worker_factory
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from services.common.actor import sign_actor
from services.common.errors import DomainError
from services.common.outbox import outbox
from services.conftest import migrated_session
from services.identity.accounts import LocalAccounts
from services.identity.domain import LockoutPolicy, after_failure, retry_after, verify_password
from services.identity.models import SigningKey, SignInThrottle, User
from services.identity.service import Service

ADMIN = sign_actor({"username": "admin", "roles": ["admin"]})


@pytest.fixture
def session(sqlite_url) -> Iterator[Session]:
    yield from migrated_session("identity", sqlite_url)


def test_create_user_hashes_an_issued_password_and_announces_it(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    issued = service.create_user(
        {"username": "u1", "full_name": "Nguyễn Văn A", "roles": ["unit_staff"],
         "email": "a@x.vn", "unit_code": "X1"}, actor=ADMIN)
    user = session.get(User, "u1")
    assert user.must_change_password is True
    assert issued["initial_password"] not in user.password_hash
    assert verify_password(user.password_hash, issued["initial_password"])
    events = session.execute(select(outbox.c.event_type, outbox.c.payload)).all()
    assert [(e.event_type, e.payload["username"]) for e in events] == [("user_created", "u1")]


def test_duplicate_username_is_refused_and_changes_nothing(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    service.create_user({"username": "u1", "full_name": "A", "roles": ["viewer"]}, actor=ADMIN)
    with pytest.raises(DomainError) as err:
        service.create_user({"username": "u1", "full_name": "B", "roles": ["viewer"]}, actor=ADMIN)
    assert err.value.status == 409
    assert session.get(User, "u1").full_name == "A"
    assert len(session.execute(select(outbox)).all()) == 1


def test_unknown_role_is_invalid_input(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    with pytest.raises(DomainError) as err:
        service.create_user({"username": "u2", "full_name": "C", "roles": ["king"]}, actor=ADMIN)
    assert err.value.code == "invalid_input"
    assert err.value.extra["errors"][0]["loc"] == ["roles"]


def test_upsert_units_creates_then_updates(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    assert service.upsert_units([{"code": "SNV", "name": "Sở Nội vụ", "type": "department"}]) == {
        "created": 1, "updated": 0}
    assert service.upsert_units(
        [{"code": "SNV", "name": "Sở Nội vụ tỉnh", "type": "department"},
         {"code": "X1", "name": "Xã Một", "type": "commune", "parent_code": "H1"}]
    ) == {"created": 1, "updated": 1}
    assert [u["name"] for u in service.list_units(type="department")] == ["Sở Nội vụ tỉnh"]


def test_ensure_admin_creates_once(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    first = service.ensure_admin("S3cret-pass")
    second = service.ensure_admin("other")
    assert first == {"username": "admin", "password": "S3cret-pass", "created": True}
    assert second["created"] is False
    assert verify_password(session.get(User, "admin").password_hash, "S3cret-pass")


def _post_form(path: str, form: dict[str, str]) -> Request:
    return Request(EnvironBuilder(method="POST", path=path, data=form).get_environ())


TOKEN_PATH = "/realms/cchc/protocol/openid-connect/token"


def test_token_endpoint_speaks_keycloak_grants_and_errors(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    service.create_user({"username": "u1", "full_name": "Nguyễn Văn A", "roles": ["viewer"],
                         "unit_code": "X1"}, password="Good-pass-1", actor=ADMIN)
    bad = service.oidc_token(_post_form(TOKEN_PATH, {
        "grant_type": "password", "client_id": "cchc-gateway", "username": "u1",
        "password": "wrong"}), realm="cchc")
    assert bad.status_code == 401 and json.loads(bad.data)["error"] == "invalid_grant"
    other_client = service.oidc_token(_post_form(TOKEN_PATH, {
        "grant_type": "password", "client_id": "x", "username": "u1",
        "password": "Good-pass-1"}), realm="cchc")
    assert other_client.status_code == 401
    good = service.oidc_token(_post_form(TOKEN_PATH, {
        "grant_type": "password", "client_id": "cchc-gateway", "username": "u1",
        "password": "Good-pass-1"}), realm="cchc")
    assert good.status_code == 200
    pair = json.loads(good.data)
    keys = json.loads(service.oidc_certs(Request(EnvironBuilder().get_environ()),
                                         realm="cchc").data)["keys"]
    assert [k["alg"] for k in keys] == ["RS256"] and "d" not in keys[0]
    claims = json.loads(jwt.JWT(jwt=pair["access_token"], key=jwk.JWK(**keys[0])).claims)
    assert claims["realm_access"] == {"roles": ["viewer"]}
    assert (claims["preferred_username"], claims["unit_code"], claims["typ"]) == (
        "u1", "X1", "Bearer")
    refreshed = service.oidc_token(_post_form(TOKEN_PATH, {
        "grant_type": "refresh_token", "client_id": "cchc-gateway",
        "refresh_token": pair["refresh_token"]}), realm="cchc")
    assert refreshed.status_code == 200
    service.set_password("u1", "Another-pass-2", old_password="Good-pass-1")
    stale = service.oidc_token(_post_form(TOKEN_PATH, {
        "grant_type": "refresh_token", "client_id": "cchc-gateway",
        "refresh_token": pair["refresh_token"]}), realm="cchc")
    assert stale.status_code == 400 and json.loads(stale.data)["error"] == "invalid_grant"


def test_signing_key_is_kept_and_rotation_keeps_the_old_one_published(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    environ = Request(EnvironBuilder().get_environ())
    first = json.loads(service.oidc_certs(environ, realm="cchc").data)["keys"]
    again = json.loads(service.oidc_certs(environ, realm="cchc").data)["keys"]
    assert [k["kid"] for k in first] == [k["kid"] for k in again]
    new_kid = service.rotate_signing_key()["kid"]
    after = [k["kid"] for k in json.loads(service.oidc_certs(environ, realm="cchc").data)["keys"]]
    assert after == [new_kid, first[0]["kid"]]
    assert service.oidc_certs(environ, realm="other").status_code == 404


def test_five_failures_lock_the_name_and_a_success_clears_them(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    outcomes = [service.record_sign_in("who", False, "10.0.0.1") for _ in range(5)]
    assert [o["locked"] for o in outcomes] == [False, False, False, False, True]
    assert 890 <= outcomes[-1]["retry_after"] <= 900
    with pytest.raises(DomainError) as err:
        service.sign_in_gate("who")
    assert err.value.status == 429 and err.value.extra["retry_after"] > 0
    service.sign_in_gate("someone-else")
    service.record_sign_in("other", False, None)
    service.record_sign_in("other", True, None)
    assert session.get(SignInThrottle, "other") is None
    session.rollback()  # end the test's read; the service opens its own transactions
    log = service.audit_log(subject="who")
    assert len(log) == 5 and log[0]["detail"]["locked"] is True and log[0]["ip"] == "10.0.0.1"


def test_lockout_window_and_lock_expire() -> None:
    policy = LockoutPolicy(3, timedelta(minutes=15), timedelta(minutes=10))
    t0 = datetime(2026, 11, 23, 8, tzinfo=UTC)
    state = None
    for minute in (0, 1, 2):
        state = after_failure(state, t0 + timedelta(minutes=minute), policy)
    assert retry_after(state, t0 + timedelta(minutes=2)) == 600
    assert retry_after(state, t0 + timedelta(minutes=12)) == 0
    # Failures spread beyond the window never add up to a lock.
    state = None
    for minute in (0, 10, 20, 30):
        state = after_failure(state, t0 + timedelta(minutes=minute), policy)
    assert state.locked_until is None


def test_bulk_issue_is_all_or_nothing_and_audited(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    service.create_user({"username": "taken", "full_name": "A", "roles": ["viewer"]}, actor=ADMIN)
    users = [{"username": f"b{i}", "full_name": f"Cán bộ {i}", "roles": ["unit_staff"],
              "unit_code": "X1"} for i in range(20)]
    with pytest.raises(DomainError) as err:
        service.create_users([*users, {"username": "taken", "full_name": "B",
                                       "roles": ["viewer"]}], actor=ADMIN)
    assert err.value.status == 409 and err.value.extra["usernames"] == ["taken"]
    assert session.get(User, "b0") is None
    session.rollback()
    with pytest.raises(DomainError) as err:
        service.create_users([users[0], users[0]], actor=ADMIN)
    assert err.value.code == "username_repeated"
    issued = service.create_users(users, actor=ADMIN, ip="10.0.0.9")
    assert [i["username"] for i in issued] == [u["username"] for u in users]
    assert len({i["initial_password"] for i in issued}) == 20
    assert verify_password(session.get(User, "b7").password_hash, issued[7]["initial_password"])
    session.rollback()
    assert len(service.audit_log(action="user_created", limit=1000)) == 21


def test_password_change_refuses_weak_ones_and_is_audited(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    service.create_user({"username": "u9", "full_name": "C", "roles": ["viewer"]}, actor=ADMIN)
    with pytest.raises(DomainError) as err:
        service.set_password("u9", "u9-password")
    assert err.value.code == "weak_password"
    service.set_password("u9", "Fine-pass-99", ip="1.2.3.4")
    user = session.get(User, "u9")
    assert user.must_change_password is False and verify_password(user.password_hash,
                                                                  "Fine-pass-99")
    session.rollback()
    entry = service.audit_log(subject="u9", action="password_changed")[0]
    assert entry["detail"] == {"first_change": True} and entry["ip"] == "1.2.3.4"


def test_list_users_by_unit_role_and_department(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    service.create_users([
        {"username": "lead", "full_name": "L", "roles": ["unit_leader"], "unit_code": "X1"},
        {"username": "staff", "full_name": "S", "roles": ["unit_staff"], "unit_code": "X1"},
        {"username": "far", "full_name": "F", "roles": ["unit_leader"], "unit_code": "X2"},
        {"username": "appr", "full_name": "A", "roles": ["appraiser"], "department_code": "SNV"},
    ], actor=ADMIN)
    assert [u["username"] for u in service.list_users(unit_code="X1")] == ["lead", "staff"]
    assert [u["username"] for u in service.list_users(role="unit_leader")] == ["far", "lead"]
    assert [u["username"] for u in service.list_users(department_code="SNV")] == ["appr"]
    assert "password_hash" not in service.list_users()[0]


def test_signing_keys_are_encrypted_at_rest_with_a_passphrase(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    environ = Request(EnvironBuilder().get_environ())
    plain_kid = json.loads(service.oidc_certs(environ, realm="cchc").data)["keys"][0]["kid"]
    monkeypatch.setenv("CCHC_SIGNING_KEY_PASSPHRASE", "bí mật của tỉnh")
    new_kid = service.rotate_signing_key()["kid"]
    stored = session.get(SigningKey, new_kid).private_pem
    session.rollback()
    assert stored.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # Both the older plain key and the encrypted one are published and sign.
    keys = json.loads(service.oidc_certs(environ, realm="cchc").data)["keys"]
    assert [k["kid"] for k in keys] == [new_kid, plain_kid]
    service.create_user({"username": "u5", "full_name": "E", "roles": ["viewer"]},
                        password="Good-pass-5", actor=ADMIN)
    good = service.oidc_token(_post_form(TOKEN_PATH, {
        "grant_type": "password", "client_id": "cchc-gateway", "username": "U5",
        "password": "Good-pass-5"}), realm="cchc")
    token = json.loads(good.data)["access_token"]
    assert jwt.JWT(jwt=token).token.jose_header["kid"] == new_kid
    jwt.JWT(jwt=token, key=jwk.JWK(**keys[0]))  # raises if the signature were wrong


def test_the_token_endpoint_refuses_a_locked_name_even_with_the_right_password(
    session: Session,
) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    service.create_user({"username": "u7", "full_name": "G", "roles": ["viewer"]},
                        password="Good-pass-7", actor=ADMIN)
    form = {"grant_type": "password", "client_id": "cchc-gateway", "username": "u7",
            "password": "Good-pass-7"}
    assert service.oidc_token(_post_form(TOKEN_PATH, form), realm="cchc").status_code == 200
    for _ in range(5):
        service.record_sign_in("u7", False, None)
    assert service.oidc_token(_post_form(TOKEN_PATH, form), realm="cchc").status_code == 401


def test_stale_sign_in_counts_are_purged_and_live_locks_kept(session: Session) -> None:
    service = worker_factory(Service, db=session, accounts=LocalAccounts())
    old = datetime.now(UTC) - timedelta(hours=2)
    session.add_all([
        SignInThrottle(username="stale", failures=2, window_started_at=old, locked_until=None),
        SignInThrottle(username="locked", failures=5, window_started_at=old,
                       locked_until=datetime.now(UTC) + timedelta(minutes=5)),
    ])
    session.commit()
    service.record_sign_in("recent", False, None)
    service.purge_sign_in_counts()
    left = sorted(session.scalars(select(SignInThrottle.username)))
    session.rollback()
    assert left == ["locked", "recent"]
