"""Trả lại bổ sung: the admin returns a unit's flagged criteria for round 2.

Submission owns the unit's side: ``return_entries`` reopens exactly those criteria
for the supplement window (everything else stays locked). Appraisal asks it first,
then marks its copy and announces ``criteria_returned`` (notify tells the unit's
leader and the assignees, with the council's reasons) in one transaction. If this
transaction fails after submission reopened them, asking again finds the unit
already returned with the same criteria and completes the step: a retried return
is never lost and never returns twice.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.appraisal.council import record_change
from services.appraisal.lock import server_now
from services.appraisal.models import Assessment, Entry, Node
from services.common.contracts import CRITERIA_RETURNED
from services.common.errors import DomainError
from services.common.outbox import record_event


def flagged(session: Session, assessment: Assessment) -> list[str]:
    """The criteria the council marked ``needs_supplement`` in round 1."""
    return list(session.scalars(select(Entry.code).where(
        Entry.assessment_id == assessment.id, Entry.needs_supplement.is_(True))
        .order_by(Entry.id)))


def reopen_in_submission(submission: Any, assessment_id: int, codes: list[str],
                         actor: dict[str, Any]) -> None:
    """Asks submission to reopen them; a repeat of a return that already happened passes."""
    try:
        submission.return_entries(assessment_id, codes, actor)
    except DomainError as error:
        if error.code != "not_submitted":
            raise
        current = submission.get_assessment_by_id(assessment_id, actor)
        reopened = sorted(e["code"] for e in current["entries"] if e.get("returned"))
        if current["status"] != "returned" or reopened != sorted(codes):
            raise


def mark_returned(session: Session, assessment: Assessment, codes: list[str],
                  actor: str) -> dict[str, Any]:
    """Marks the copy returned and announces the criteria with the council's reasons."""
    titles = dict(session.execute(select(Node.code, Node.title).where(
        Node.campaign_id == assessment.campaign_id, Node.code.in_(codes))).all())
    entries = session.scalars(select(Entry).where(Entry.assessment_id == assessment.id,
                                                  Entry.code.in_(codes))
                              .order_by(Entry.id)).all()
    now = server_now(session)
    for entry in entries:
        entry.returned = True
        entry.version += 1
    assessment.status = "returned"
    assessment.round = 2
    items = [{"code": e.code, "title": titles.get(e.code, ""), "reason": e.r1_reason}
             for e in entries]
    record_change(session, assessment.id, None, "return", actor, now, None,
                  {"codes": codes, "round": 2})
    record_event(session, CRITERIA_RETURNED, {
        "assessment_id": assessment.id, "campaign_id": assessment.campaign_id,
        "unit_code": assessment.unit_code, "round": 2, "items": items})
    return {"assessment_id": assessment.id, "status": assessment.status, "round": 2, "items": items}


def check_returnable(assessment: Assessment, codes: list[str]) -> None:
    if assessment.status != "sent":
        raise DomainError("not_returnable",
                          "Chỉ trả lại được bản đã gửi ở vòng 1 / only a round-1 sending can be "
                          "returned", 409, {"current_status": assessment.status})
    if not codes:
        raise DomainError("nothing_flagged",
                          "Hội đồng chưa đánh dấu tiêu chí nào cần bổ sung / the council "
                          "flagged no criterion for supplement", 409)
