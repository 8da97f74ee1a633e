"""Hội đồng thẩm định: the queue of a department and the council's scores per round.

Each criterion's department comes from the set (``appraised_by``); an appraiser sees
and scores only those, across every unit that has sent. Round 1 is scored in the
``appraisal`` window, round 2 (returned criteria only) in ``final_appraisal``; both
lock at their instant (services/appraisal/lock.py). Every change is kept in
``changes`` and announced as ``criterion_appraised`` through the outbox.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.appraisal import domain, lock
from services.appraisal.models import Assessment, Change, Entry, Node
from services.common.contracts import CRITERION_APPRAISED
from services.common.errors import DomainError, invalid, not_found
from services.common.outbox import record_event
from services.common.scoring import text
from services.common.times import vn_iso

QUEUE_STATES = ("pending", "appraised", "needs_supplement", "returned")


def state(entry: Entry, assessment: Assessment) -> str:
    """Where a criterion stands for the council (the queue's ``status`` filter)."""
    if entry.returned:
        return "appraised" if entry.r2_score is not None and assessment.status != "returned" \
            else "returned"
    if entry.r1_score is None:
        return "pending"
    return "needs_supplement" if entry.needs_supplement else "appraised"


def entry_out(entry: Entry, node: Node, assessment: Assessment) -> dict[str, Any]:
    return {
        "assessment_id": assessment.id, "unit_code": assessment.unit_code,
        "unit_name": assessment.unit_name,
        "code": entry.code, "title": node.title, "max": text(node.max), "rule": node.rule,
        "appraised_by": node.appraised_by, "self_score": text(entry.self_score),
        "not_applicable": entry.not_applicable, "explanation": entry.explanation,
        "evidence": entry.evidence, "problems": entry.problems,
        # The pre-send check's proposal: 0 for a letter-suffixed number or no citation.
        "predicted_score": text(entry.predicted_score),
        "status": state(entry, assessment), "version": entry.version,
        "round1": {"score": text(entry.r1_score), "reason": entry.r1_reason,
                   "needs_supplement": entry.needs_supplement, "by": entry.r1_by,
                   "at": vn_iso(entry.r1_at)},
        "returned": entry.returned,
        "round2": {"explanation": entry.r2_explanation, "new_evidence": entry.r2_evidence,
                   "proposed_score": text(entry.proposed_score),
                   "score": text(entry.r2_score), "reason": entry.r2_reason,
                   "by": entry.r2_by, "at": vn_iso(entry.r2_at)},
        "survey_score": text(entry.survey_score),
    }


def queue(session: Session, campaign_id: int, department_code: str | None,
          unit: str | None, status: str | None) -> list[dict[str, Any]]:
    """The sent criteria this department appraises, across units, in unit and code order."""
    if status is not None and status not in QUEUE_STATES:
        raise invalid(f"Trạng thái phải là một trong / status must be one of: "
                      f"{', '.join(QUEUE_STATES)}")
    if not department_code:
        return []
    query = (
        select(Entry, Node, Assessment)
        .join(Assessment, Assessment.id == Entry.assessment_id)
        .join(Node, (Node.campaign_id == Assessment.campaign_id) & (Node.code == Entry.code))
        .where(Assessment.campaign_id == campaign_id, Node.appraised_by == department_code,
               Assessment.status != "withdrawn")
        .order_by(Assessment.unit_code, Node.position)
    )
    if unit:
        query = query.where(Assessment.unit_code == unit)
    rows = [entry_out(e, n, a) for e, n, a in session.execute(query).all()]
    return [r for r in rows if status is None or r["status"] == status]


def appraise(session: Session, assessment: Assessment, node: Node, body: dict[str, Any],
             who: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """One council score, in the caller's transaction; returns it and the window to
    check again before COMMIT."""
    round_ = body.get("round")
    if round_ not in (1, 2):
        raise invalid("Vòng thẩm định là 1 hoặc 2 / round must be 1 or 2")
    domain.check_department(node.appraised_by, who.get("department_code"), node.code)
    if (node.rule or {}).get("kind") == "survey":
        raise DomainError("survey_by_admin",
                          f"Tiêu chí {node.code} chấm từ kết quả điều tra, do Sở Nội vụ nhập / "
                          f"criterion {node.code} is scored from survey results by the admin",
                          422)
    window = lock.open_window(session, assessment.campaign_id, lock.WINDOW_OF_ROUND[round_])
    now = lock.server_now(session)
    entry = session.scalars(select(Entry).where(Entry.assessment_id == assessment.id,
                                                Entry.code == node.code)
                            .with_for_update()).one_or_none()
    if entry is None:
        raise not_found("tiêu chí / criterion", node.code)
    if assessment.status == "finalized":
        raise DomainError("assessment_finalized",
                          "Kết quả đã chốt / the result is final", 409)
    if round_ == 1 and assessment.status != "sent":
        raise DomainError("round_closed",
                          "Vòng 1 đã kết thúc với đơn vị này (đã trả lại) / round 1 is over "
                          "for this unit (criteria were returned)", 409)
    if round_ == 2 and not entry.returned:
        raise DomainError("not_returned",
                          f"Tiêu chí {node.code} không được trả lại để bổ sung / criterion "
                          f"{node.code} was not returned", 409)
    reason = str(body.get("reason") or "").strip()
    score = domain.council_score(node.rule, node.max, body.get("score"))
    reference = entry.self_score if round_ == 1 else (
        entry.proposed_score if entry.proposed_score is not None else entry.self_score)
    domain.require_reason(score, reference, reason, node.code)
    needs = bool(body.get("needs_supplement"))
    if needs and round_ == 2:
        raise invalid("Vòng 2 không trả lại thêm / round 2 returns nothing more")
    before = snapshot(entry)
    if round_ == 1:
        entry.r1_score, entry.r1_reason, entry.needs_supplement = score, reason, needs
        entry.r1_by, entry.r1_at = who["username"], now
    else:
        entry.r2_score, entry.r2_reason = score, reason
        entry.r2_by, entry.r2_at = who["username"], now
    entry.version += 1
    record_change(session, assessment.id, node.code, f"appraise_round{round_}", who["username"],
                  now, before, snapshot(entry))
    record_event(session, CRITERION_APPRAISED, {
        "assessment_id": assessment.id, "campaign_id": assessment.campaign_id,
        "unit_code": assessment.unit_code, "code": node.code, "round": round_,
        "score": text(score), "reason": reason, "needs_supplement": needs,
        "appraiser": who["username"]})
    return entry_out(entry, node, assessment), window


def snapshot(entry: Entry) -> dict[str, Any]:
    return {"r1_score": text(entry.r1_score), "r1_reason": entry.r1_reason,
            "needs_supplement": entry.needs_supplement, "r2_score": text(entry.r2_score),
            "r2_reason": entry.r2_reason, "survey_score": text(entry.survey_score),
            "returned": entry.returned}


def record_change(session: Session, assessment_id: int, code: str | None, action: str,
                  actor: str, at: datetime, before: dict[str, Any] | None,
                  after: dict[str, Any] | None) -> None:
    session.add(Change(assessment_id=assessment_id, code=code, action=action, actor=actor,
                       at=at, before=before, after=after))


def history(session: Session, assessment_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Change).where(Change.assessment_id == assessment_id)
                           .order_by(Change.id)).all()
    return [{"id": c.id, "code": c.code, "action": c.action, "actor": c.actor,
             "at": vn_iso(c.at), "before": c.before, "after": c.after} for c in rows]
