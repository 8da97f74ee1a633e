"""Provisioning into Keycloak through KeycloakAdmin, against a fake admin API on loopback."""

from collections.abc import Iterator

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy.orm import Session

from services.common.actor import sign_actor
from services.common.errors import DomainError
from services.conftest import migrated_session
from services.identity.accounts import KeycloakAccounts, keycloak_admin
from services.identity.config import IdentitySettings
from services.identity.issuance import PASSWORD_ELSEWHERE
from services.identity.models import User
from services.identity.service import Service
from services.identity.tests.fake_keycloak import FakeKeycloak

ADMIN = sign_actor({"username": "admin", "roles": ["admin"]})


@pytest.fixture
def session(sqlite_url) -> Iterator[Session]:
    yield from migrated_session("identity", sqlite_url)


@pytest.fixture
def keycloak() -> Iterator[FakeKeycloak]:
    fake = FakeKeycloak()
    fake.url = fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def service(session: Session, keycloak: FakeKeycloak) -> Service:
    cfg = IdentitySettings(identity_provider="keycloak", keycloak_url=keycloak.url,
                           keycloak_admin_username="kcadmin", keycloak_admin_password="kcpass")
    return worker_factory(Service, db=session, accounts=KeycloakAccounts(keycloak_admin(cfg)))


def test_bulk_issue_provisions_users_attributes_passwords_and_roles(
    service: Service, keycloak: FakeKeycloak, session: Session
) -> None:
    users = [{"username": f"CB.{i}", "full_name": f"Nguyễn Văn {i}", "roles": ["unit_staff"],
              "unit_code": "X-PHUDIEN", "email": f"cb{i}@x.vn"} for i in range(12)]
    users[0]["roles"] = ["unit_leader", "unit_staff"]
    issued = service.create_users(users, actor=ADMIN)
    assert len(keycloak.users) == 12
    user_id, rep = keycloak.by_username("cb.0")
    assert rep["firstName"] == "Nguyễn Văn 0" and rep["enabled"] is True
    assert rep["attributes"] == {"must_change_password": ["true"], "unit_code": ["X-PHUDIEN"]}
    assert keycloak.passwords[user_id] == (issued[0]["initial_password"], False)
    assert keycloak.roles[user_id] == {"offline_access", "unit_leader", "unit_staff"}
    # The password lives in Keycloak only.
    assert session.get(User, "cb.0").password_hash == PASSWORD_ELSEWHERE
    session.rollback()


def test_password_change_and_role_change_reach_the_realm(
    service: Service, keycloak: FakeKeycloak
) -> None:
    service.create_user({"username": "hoa", "full_name": "Trần Thị Hoa", "roles": ["viewer"],
                         "department_code": "SNV"}, actor=ADMIN)
    service.set_password("hoa", "Moi-mat-khau-1")
    user_id, rep = keycloak.by_username("hoa")
    assert keycloak.passwords[user_id] == ("Moi-mat-khau-1", False)
    assert rep["attributes"]["must_change_password"] == ["false"]
    assert rep["attributes"]["department_code"] == ["SNV"]
    service.set_roles("hoa", ["appraiser", "admin"], actor=ADMIN)
    assert keycloak.roles[user_id] == {"offline_access", "admin", "appraiser"}


def test_a_keycloak_failure_leaves_nothing_behind_and_a_retry_completes(
    service: Service, keycloak: FakeKeycloak, session: Session
) -> None:
    users = [{"username": f"u{i}", "full_name": "X", "roles": ["viewer"]} for i in range(6)]
    keycloak.fail_creates_after = 3
    with pytest.raises(DomainError) as err:
        service.create_users(users, actor=ADMIN)
    assert err.value.status == 502 and err.value.code == "identity_provider_error"
    assert session.get(User, "u0") is None
    session.rollback()
    keycloak.fail_creates_after = None
    issued = service.create_users(users, actor=ADMIN)
    assert len(keycloak.users) == 6
    # Users that got into the realm the first time now carry the passwords handed out.
    for account in issued:
        user_id, _ = keycloak.by_username(account["username"])
        assert keycloak.passwords[user_id][0] == account["initial_password"]


def test_wrong_admin_credentials_are_a_502_not_a_crash(
    session: Session, keycloak: FakeKeycloak
) -> None:
    cfg = IdentitySettings(identity_provider="keycloak", keycloak_url=keycloak.url,
                           keycloak_admin_username="kcadmin", keycloak_admin_password="nope")
    service = worker_factory(Service, db=session, accounts=KeycloakAccounts(keycloak_admin(cfg)))
    with pytest.raises(DomainError) as err:
        service.create_user({"username": "x1", "full_name": "X", "roles": ["viewer"]}, actor=ADMIN)
    assert err.value.status == 502
