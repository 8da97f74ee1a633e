from collections.abc import Iterator

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.errors import DomainError
from services.common.outbox import outbox
from services.conftest import migrated_session
from services.identity.domain import verify_password
from services.identity.models import User
from services.identity.service import Service


@pytest.fixture
def session(sqlite_url) -> Iterator[Session]:
    yield from migrated_session("identity", sqlite_url)


def test_create_user_hashes_an_issued_password_and_announces_it(session: Session) -> None:
    service = worker_factory(Service, db=session)
    issued = service.create_user(
        {"username": "u1", "full_name": "Nguyễn Văn A", "roles": ["unit_staff"],
         "email": "a@x.vn", "unit_code": "X1"}
    )
    user = session.get(User, "u1")
    assert user.must_change_password is True
    assert issued["initial_password"] not in user.password_hash
    assert verify_password(user.password_hash, issued["initial_password"])
    events = session.execute(select(outbox.c.event_type, outbox.c.payload)).all()
    assert [(e.event_type, e.payload["username"]) for e in events] == [("user_created", "u1")]


def test_duplicate_username_is_refused_and_changes_nothing(session: Session) -> None:
    service = worker_factory(Service, db=session)
    service.create_user({"username": "u1", "full_name": "A", "roles": ["viewer"]})
    with pytest.raises(DomainError) as err:
        service.create_user({"username": "u1", "full_name": "B", "roles": ["viewer"]})
    assert err.value.status == 409
    assert session.get(User, "u1").full_name == "A"
    assert len(session.execute(select(outbox)).all()) == 1


def test_unknown_role_is_invalid_input(session: Session) -> None:
    service = worker_factory(Service, db=session)
    with pytest.raises(DomainError) as err:
        service.create_user({"username": "u2", "full_name": "C", "roles": ["king"]})
    assert err.value.code == "invalid_input"
    assert err.value.extra["errors"][0]["loc"] == ["roles"]


def test_upsert_units_creates_then_updates(session: Session) -> None:
    service = worker_factory(Service, db=session)
    assert service.upsert_units([{"code": "SNV", "name": "Sở Nội vụ", "type": "department"}]) == {
        "created": 1, "updated": 0}
    assert service.upsert_units(
        [{"code": "SNV", "name": "Sở Nội vụ tỉnh", "type": "department"},
         {"code": "X1", "name": "Xã Một", "type": "commune", "parent_code": "H1"}]
    ) == {"created": 1, "updated": 1}
    assert [u["name"] for u in service.list_units(type="department")] == ["Sở Nội vụ tỉnh"]


def test_ensure_admin_creates_once(session: Session) -> None:
    service = worker_factory(Service, db=session)
    first = service.ensure_admin("S3cret-pass")
    second = service.ensure_admin("other")
    assert first == {"username": "admin", "password": "S3cret-pass", "created": True}
    assert second["created"] is False
    assert verify_password(session.get(User, "admin").password_hash, "S3cret-pass")
