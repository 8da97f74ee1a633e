"""Appraisal under worker_factory, with real criteria and submission workers behind its proxies.

The proxies are Mocks whose methods call real workers on databases of their own, so
every copy, lock and score comes from the real code; events are handed over by
reading submission's outbox, as the relay would publish them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.appraisal.service import Service
from services.common.actor import sign_actor
from services.common.outbox import outbox
from services.conftest import migrated_session
from services.criteria.service import Service as Criteria
from services.submission.service import Service as Submission
from services.submission.tests.conftest import signed_now

SET = {
    "name": "Bộ tiêu chí thử cấp xã 2025", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 90, "label": "Xuất sắc"}, {"min": 80, "label": "Tốt"},
              {"min": 65, "label": "Khá"}, {"min": 0, "label": "Yếu"}],
    "bonus_max": 2, "penalty_max": 1,
    "nodes": [
        {"code": "1", "title": "Công tác chỉ đạo, điều hành CCHC", "max": 5, "children": [
            {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "max": 2,
             "rule": {"kind": "options", "options": [
                 {"label": "Đúng thời hạn", "score": 2}, {"label": "Chậm", "score": 1},
                 {"label": "Không ban hành", "score": 0}]},
             "evidence": "none", "appraised_by": "SNV"},
            {"code": "1.2", "title": "Kiểm tra công tác CCHC", "max": 3,
             "rule": {"kind": "range", "step": 0.25}, "evidence": "none",
             "appraised_by": "SNV"},
        ]},
        {"code": "2", "title": "Cải cách thể chế", "max": 5, "children": [
            {"code": "2.1", "title": "Rà soát văn bản QPPL", "max": 2,
             "rule": {"kind": "deduction", "per_item": 0.5}, "evidence": "none",
             "appraised_by": "STP", "not_applicable_allowed": True},
            {"code": "2.2", "title": "Mức độ hài lòng của người dân", "max": 3,
             "rule": {"kind": "survey"}, "evidence": "none"},
        ]},
    ],
}

def signed(actor: dict[str, Any]) -> dict[str, Any]:
    """Signed as the gateway signs callers, valid for the whole test run."""
    return sign_actor(actor, ttl=3600)


ADMIN = signed({"username": "admin", "roles": ["admin"], "unit_code": None,
                "department_code": None})
SNV = signed({"username": "tham.dinh.snv", "roles": ["appraiser"], "unit_code": None,
               "department_code": "SNV"})
STP = signed({"username": "tham.dinh.stp", "roles": ["appraiser"], "unit_code": None,
               "department_code": "STP"})
LEADER = signed({"username": "lanh.dao", "roles": ["unit_leader"], "unit_code": "X1",
                 "department_code": None})
LEADER2 = signed({"username": "lanh.dao2", "roles": ["unit_leader"], "unit_code": "X2",
                  "department_code": None})
UNITS = [{"code": "X1", "name": "UBND xã Hương Vinh", "type": "commune", "parent_code": None},
         {"code": "X2", "name": "UBND phường Thuận Hòa", "type": "commune",
          "parent_code": None}]
SUMMARY = {"signed_summary": {"ref": "signed-summaries/ab.pdf", "filename": "bang.pdf",
                              "sha256": "a" * 64, "size": 1234},
           "proposed_classification": "Tốt"}


def window(opens: timedelta, locks: timedelta) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"opens_at": (now + opens).isoformat(), "locks_at": (now + locks).isoformat()}


OPEN = (-timedelta(hours=1), timedelta(hours=1))


@pytest.fixture
def criteria(tmp_path) -> Iterator[Criteria]:
    for session in migrated_session("criteria", f"sqlite:///{tmp_path / 'criteria.db'}"):
        yield worker_factory(Criteria, db=session)


@pytest.fixture
def submission(tmp_path, criteria) -> Iterator[Submission]:
    for session in migrated_session("submission", f"sqlite:///{tmp_path / 'sub.db'}"):
        service = worker_factory(Submission, db=session)
        for method in ("get_catalog", "use_catalog", "score_entry", "compute_result"):
            getattr(service.criteria, method).side_effect = getattr(criteria, method)
        service.identity.list_units.return_value = UNITS
        service.evidence.check_signed_summary.side_effect = \
            lambda ref, service=service: signed_now(service)
        service.identity.list_users.side_effect = lambda unit_code=None, **_: [
            {"username": u["username"]} for u in (LEADER, LEADER2) if u["unit_code"] == unit_code]
        yield service


@pytest.fixture(params=["sqlite", "postgresql"])
def appraisal_session(request, tmp_path) -> Iterator[Session]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'appraisal.db'}"
        yield from migrated_session("appraisal", url)
    else:
        url = request.getfixturevalue("pg_url")
        yield from migrated_session("appraisal", url)


@pytest.fixture
def appraisal(appraisal_session, submission, criteria) -> Service:
    service = worker_factory(Service, db=appraisal_session)
    for method in ("get_campaign", "get_assessment_by_id", "return_entries", "round_two"):
        getattr(service.submission, method).side_effect = getattr(submission, method)
    service.submission.precheck.side_effect = getattr(submission, "precheck", lambda *a: [])
    service.criteria.get_catalog.side_effect = criteria.get_catalog
    return service


@pytest.fixture
def deliver(submission, appraisal) -> Callable[[], int]:
    """Hands submission's new events to appraisal's handlers, as the relay and bus would."""
    handlers = {"assessment_submitted": appraisal.on_assessment_submitted,
                "assessment_withdrawn": appraisal.on_assessment_withdrawn}

    def run() -> int:
        db = submission.db
        rows = db.execute(select(outbox.c.id, outbox.c.event_type, outbox.c.payload)
                          .where(outbox.c.published_at.is_(None))).all()
        for row in rows:
            if row.event_type in handlers:
                handlers[row.event_type](row.payload)
        db.execute(update(outbox).where(outbox.c.id.in_([r.id for r in rows]))
                   .values(published_at=datetime.now(UTC)))
        db.commit()
        return len(rows)

    return run


@pytest.fixture
def campaign(submission, criteria) -> Callable[..., dict[str, Any]]:
    def create(**windows: tuple[timedelta, timedelta]) -> dict[str, Any]:
        catalog_id = criteria.create_catalog(SET)["id"]
        spans = {"self_assessment": OPEN, "appraisal": OPEN, "supplement": OPEN,
                 "final_appraisal": OPEN, **windows}
        cid = submission.create_campaign(
            {"name": "Đánh giá CCHC 2025", "year": 2025, "catalog_id": catalog_id,
             "unit_codes": ["X1", "X2"],
             "windows": {k: window(*v) for k, v in spans.items()}}, ADMIN)["id"]
        units = {u["unit_code"]: u["assessment_id"]
                 for u in submission.get_campaign(cid)["units"]}
        return {"id": cid, **units}

    return create


def send(submission: Submission, aid: int, leader: dict[str, Any],
         scores: dict[str, dict[str, Any]]) -> None:
    """The unit fills every criterion it scores and its leader sends."""
    for code, inputs in scores.items():
        submission.save_entry(aid, code, {**inputs, "explanation":
                                          f"Theo Kế hoạch số 25/KH-UBND, mục II ({code})"},
                              leader)
        submission.complete_entry(aid, code, leader)
    submission.submit(aid, SUMMARY, leader)
