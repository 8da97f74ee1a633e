"""Fixtures of notify's tests: its database, and real SMTP and ZNS servers on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy.orm import Session

from services.conftest import migrated_session
from services.notify import service as notify_service
from services.notify.config import NotifySettings
from services.notify.devservers.smtp import DevSmtp
from services.notify.devservers.zns import DevZns
from services.notify.service import Service


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    yield from migrated_session("notify", sqlite_url)


@pytest.fixture
def pg_session(pg_url: str) -> Iterator[Session]:
    yield from migrated_session("notify", pg_url)


@pytest.fixture
def smtp() -> Iterator[DevSmtp]:
    box = DevSmtp("127.0.0.1", free_port()).start()
    yield box
    box.stop()


@pytest.fixture
def zns() -> Iterator[DevZns]:
    server = DevZns("127.0.0.1", 0).start()
    yield server
    server.stop()


@pytest.fixture
def cfg(smtp: DevSmtp, zns: DevZns, monkeypatch: pytest.MonkeyPatch) -> NotifySettings:
    settings = NotifySettings(
        smtp_port=smtp.port, zalo_api_url=f"http://127.0.0.1:{zns.port}",
        zalo_oauth_url=f"http://127.0.0.1:{zns.port}", notify_retry_base_seconds=0,
        notify_retry_cap_seconds=0, notify_max_attempts=3, smtp_connections=2,
        zalo_connections=2, public_url="https://cchc.example.gov.vn")
    monkeypatch.setattr(notify_service, "_cfg", settings)
    return settings


PEOPLE = [
    {"username": "lanh.dao", "full_name": "Nguyễn Văn Lãnh", "email": "lanhdao@x1.gov.vn",
     "zalo_phone": "0912000001", "roles": ["unit_leader"], "unit_code": "X1"},
    {"username": "can.bo1", "full_name": "Trần Thị Cán", "email": "canbo1@x1.gov.vn",
     "zalo_phone": "0912000002", "roles": ["unit_staff"], "unit_code": "X1"},
    {"username": "can.bo2", "full_name": "Lê Văn Bộ", "email": "canbo2@x1.gov.vn",
     "zalo_phone": None, "roles": ["unit_staff"], "unit_code": "X1"},
    {"username": "lanh.dao2", "full_name": "Phạm Thị Hai", "email": "lanhdao@x2.gov.vn",
     "zalo_phone": "0912000003", "roles": ["unit_leader"], "unit_code": "X2"},
    {"username": "tham.dinh", "full_name": "Hoàng Văn Thẩm", "email": "td@snv.gov.vn",
     "zalo_phone": None, "roles": ["appraiser"], "unit_code": None},
]

CAMPAIGN = {"id": 7, "name": "Đánh giá Chỉ số CCHC cấp xã năm 2025", "year": 2025,
            "units": [{"unit_code": "X1", "unit_name": "UBND xã Hương Vinh",
                       "assessment_id": 11},
                      {"unit_code": "X2", "unit_name": "UBND xã Hương Toàn",
                       "assessment_id": 12}],
            "windows": {"self_assessment": {"kind": "self_assessment",
                                            "opens_at": "2025-09-14T08:00:00+07:00",
                                            "locks_at": "2025-10-05T17:00:00+07:00"}}}


def list_users(unit_code: str | None = None, role: str | None = None,
               department_code: str | None = None) -> list[dict[str, Any]]:
    return [p for p in PEOPLE if (unit_code is None or p["unit_code"] == unit_code)
            and (role is None or role in p["roles"])]


@pytest.fixture
def notify(session: Session, cfg: NotifySettings) -> Service:
    return make_service(session)


def make_service(session: Session) -> Service:
    service = worker_factory(Service, db=session)
    service.identity.list_users.side_effect = list_users
    service.submission.get_campaign.return_value = CAMPAIGN
    return service
