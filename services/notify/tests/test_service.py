from collections.abc import Iterator

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy.orm import Session

from services.conftest import migrated_session
from services.notify.service import Service


@pytest.fixture
def session(sqlite_url) -> Iterator[Session]:
    yield from migrated_session("notify", sqlite_url)


PAYLOAD = {"event_id": "5b0c3f7e-0000-4000-8000-000000000001", "username": "u1",
           "full_name": "Nguyễn Văn A", "email": "a@x.vn", "zalo_phone": "0912345678",
           "roles": ["unit_staff"], "unit_code": "X1"}


def test_user_created_fans_out_to_email_and_zalo(session: Session) -> None:
    service = worker_factory(Service, db=session)
    service.on_user_created(PAYLOAD)
    sent = service.list_notifications()
    assert {(n["channel"], n["recipient"]) for n in sent} == {
        ("email", "a@x.vn"), ("zalo", "0912345678")}
    assert all("u1" in n["body"] for n in sent)


def test_redelivered_event_is_handled_once(session: Session) -> None:
    service = worker_factory(Service, db=session)
    service.on_user_created(PAYLOAD)
    service.on_user_created(PAYLOAD)
    assert len(service.list_notifications()) == 2
