"""The submission service under worker_factory, with a real criteria service behind its proxy.

The criteria proxy is a Mock (worker_factory's); its methods call a real criteria
worker on a database of its own, so scores and totals come from the real rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.conftest import migrated_session
from services.criteria.service import Service as Criteria
from services.submission import signed_summary
from services.submission.models import Assessment
from services.submission.service import Service

SET = {
    "name": "Bộ tiêu chí thử cấp xã 2025", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 90, "label": "Xuất sắc"}, {"min": 80, "label": "Tốt"},
              {"min": 0, "label": "Yếu"}],
    "nodes": [
        {"code": "1", "title": "Công tác chỉ đạo, điều hành CCHC", "max": 5, "children": [
            {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "max": 2,
             "rule": {"kind": "options", "options": [
                 {"label": "Đúng thời hạn", "score": 2}, {"label": "Chậm", "score": 1},
                 {"label": "Không ban hành", "score": 0}]},
             "evidence": "required"},
            {"code": "1.2", "title": "Tỷ lệ hoàn thành kế hoạch", "max": 3,
             "rule": {"kind": "ratio"}, "evidence": "optional"},
        ]},
        {"code": "2", "title": "Cải cách thủ tục hành chính", "max": 5, "children": [
            {"code": "2.1", "title": "Kiểm tra công tác CCHC", "max": 2,
             "rule": {"kind": "range", "step": 0.25}, "evidence": "none",
             "not_applicable_allowed": True},
            {"code": "2.2", "title": "Báo cáo định kỳ", "max": 3,
             "rule": {"kind": "deduction", "per_item": 0.5}, "evidence": "none"},
        ]},
    ],
}
LEAVES = ("1.1", "1.2", "2.1", "2.2")

ADMIN = {"username": "admin", "roles": ["admin"], "unit_code": None}
LEADER = {"username": "lanh.dao", "roles": ["unit_leader"], "unit_code": "X1"}
STAFF = {"username": "can.bo", "roles": ["unit_staff"], "unit_code": "X1"}
OTHER = {"username": "khac", "roles": ["unit_leader"], "unit_code": "X2"}
UNITS = [{"code": "X1", "name": "UBND xã Hương Vinh", "type": "commune", "parent_code": None},
         {"code": "X2", "name": "UBND phường Thuận Hòa", "type": "commune",
          "parent_code": None}]


def window(opens: timedelta, locks: timedelta) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"opens_at": (now + opens).isoformat(), "locks_at": (now + locks).isoformat()}


@pytest.fixture
def criteria(tmp_path) -> Iterator[Criteria]:
    for session in migrated_session("criteria", f"sqlite:///{tmp_path / 'criteria.db'}"):
        yield worker_factory(Criteria, db=session)


def signed_now(service: Service) -> dict[str, Any]:
    """The evidence checker's answer for a summary signed just now, valid for every
    assessment's current table (the unit tests send no real PDF)."""
    markers = []
    for found in service.db.scalars(select(Assessment)):
        table, _ = service._summary_table(found)
        markers.append(signed_summary.marker(found.id, signed_summary.digest(table)))
    return {"state": "valid", "signatures": [
        {"state": "valid", "signer": "UBND xã thử", "trusted": True, "signed_markers": markers}]}


def make_service(session: Session, criteria: Criteria) -> Service:
    service = worker_factory(Service, db=session)
    for method in ("get_catalog", "use_catalog", "score_entry", "compute_result"):
        getattr(service.criteria, method).side_effect = getattr(criteria, method)
    service.identity.list_units.return_value = UNITS
    service.evidence.check_signed_summary.side_effect = lambda ref: signed_now(service)
    service.identity.list_users.side_effect = lambda unit_code=None, **_: [
        {"username": u["username"]} for u in (LEADER, STAFF, OTHER)
        if u["unit_code"] == unit_code]
    return service


@pytest.fixture
def session(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Session]:
    """SQLite; a test parametrized with ``indirect=["session"]`` and "postgresql"
    runs on a new PostgreSQL database instead (the two write entries differently)."""
    if getattr(request, "param", "sqlite") == "postgresql":
        yield from migrated_session("submission", request.getfixturevalue("pg_url"))
    else:
        yield from migrated_session("submission", sqlite_url)


# For the tests whose rules both databases must keep the same way.
both_databases = pytest.mark.parametrize("session", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def service(session: Session, criteria: Criteria) -> Service:
    return make_service(session, criteria)


@pytest.fixture
def campaign(service: Service, criteria: Criteria) -> Callable[..., dict[str, Any]]:
    """Creates a campaign with X1 and X2; returns ids by unit."""

    def create(**windows: dict[str, str]) -> dict[str, Any]:
        catalog_id = criteria.create_catalog(SET)["id"]
        windows = windows or {"self_assessment": window(-timedelta(hours=1),
                                                         timedelta(hours=1))}
        cid = service.create_campaign(
            {"name": "Đánh giá CCHC 2025", "year": 2025, "catalog_id": catalog_id,
             "unit_codes": ["X1", "X2"], "windows": windows}, ADMIN)["id"]
        units = {u["unit_code"]: u["assessment_id"] for u in service.get_campaign(cid)["units"]}
        return {"id": cid, "catalog_id": catalog_id, **units}

    return create
