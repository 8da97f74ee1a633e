"""Copies of what other services own, taken once, so the council's work reads locally.

The campaign, its criteria tree (from the set) and its windows are copied the first
time appraisal needs them; none of them ever change afterwards (a set in use is
immutable, windows are only added), so a window missing here is the only reason to
ask again. A unit's sending is copied when submission announces it
(``assessment_submitted``), with the pre-send check and, in round 2, what the unit
added to its returned criteria. RPC reads happen before the write transaction, never
inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from nameko.exceptions import MethodNotFound
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.appraisal.models import Assessment, Campaign, Entry, Node, Window
from services.common.actor import sign_actor
from services.common.errors import not_found
from services.common.types import to_exact

# Who appraisal is when it reads a unit's assessment for the council.
SYSTEM_ACTOR: dict[str, Any] = {"username": "appraisal", "roles": ["admin"],
                                "unit_code": None, "department_code": None}


def system_actor() -> dict[str, Any]:
    """SYSTEM_ACTOR signed as the gateway signs callers (services/common/actor.py)."""
    return sign_actor(SYSTEM_ACTOR)


def flatten(nodes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The set's tree as rows in reading order; each knows its field (lĩnh vực)."""
    rows: list[dict[str, Any]] = []

    def visit(items: Iterable[Mapping[str, Any]], field: str | None, depth: int) -> None:
        for node in items:
            code = str(node["code"])
            children = node.get("children") or []
            rows.append({"code": code, "title": str(node.get("title", "")),
                         "max": to_exact(str(node.get("max", "0"))), "depth": depth,
                         "position": len(rows), "field_code": field or code,
                         "is_leaf": not children, "rule": node.get("rule"),
                         "appraised_by": node.get("appraised_by")})
            visit(children, field or code, depth + 1)

    visit(nodes, None, 0)
    return rows


def campaign(session: Session, submission: Any, criteria: Any, campaign_id: int,
             need_window: str | None = None) -> Campaign:
    """The local copy of a campaign, made on first use; refreshes windows when one is new."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is not None and (need_window is None or _has_window(session, campaign_id,
                                                                 need_window)):
        return campaign
    remote = submission.get_campaign(campaign_id)
    if campaign is None:
        catalog = criteria.get_catalog(remote["catalog_id"])
        campaign = Campaign(
            id=campaign_id, name=remote["name"], year=remote["year"],
            catalog_id=remote["catalog_id"], unit_type=catalog.get("unit_type") or "",
            bands=remote.get("bands") or catalog.get("bands") or [],
            bonus_max=to_exact(str(catalog.get("bonus_max") or 0)),
            penalty_max=to_exact(str(catalog.get("penalty_max") or 0)),
            unranked_unit_codes=list(remote.get("unranked_unit_codes") or []))
        session.add(campaign)
        session.flush()
        session.add_all(Node(campaign_id=campaign_id, **row) for row in flatten(catalog["nodes"]))
    _add_windows(session, campaign_id, remote["windows"])
    try:
        session.commit()
    except IntegrityError:
        # Another worker copied it at the same time: theirs is the same copy.
        session.rollback()
        if need_window:
            _add_windows(session, campaign_id, remote["windows"])
            session.commit()
    return session.get(Campaign, campaign_id)


def _has_window(session: Session, campaign_id: int, kind: str) -> bool:
    return session.scalar(select(Window.id).where(Window.campaign_id == campaign_id,
                                                  Window.kind == kind)) is not None


def _add_windows(session: Session, campaign_id: int, windows: Mapping[str, Any]) -> None:
    copied = set(session.scalars(select(Window.kind).where(Window.campaign_id == campaign_id)))
    for kind, w in windows.items():
        if kind not in copied:
            session.add(Window(campaign_id=campaign_id, kind=kind,
                               opens_at=datetime.fromisoformat(w["opens_at"]),
                               locks_at=datetime.fromisoformat(w["locks_at"])))


def nodes(session: Session, campaign_id: int) -> dict[str, Node]:
    rows = session.scalars(select(Node).where(Node.campaign_id == campaign_id)
                           .order_by(Node.position)).all()
    return {n.code: n for n in rows}


def read_sending(submission: Any, assessment_id: int) -> dict[str, Any]:
    """Everything the council needs from a sending: entries, pre-check, round-2 additions."""
    actor = system_actor()
    sent = submission.get_assessment_by_id(assessment_id, actor)
    try:
        problems = submission.precheck(assessment_id, actor)
    except MethodNotFound:
        # A submission service older than the pre-send check: round 1 starts from
        # the council's own reading alone.
        problems = []
    round_two = submission.round_two(assessment_id, actor) if sent["round"] > 1 else {}
    return {"assessment": sent, "problems": problems, "round_two": round_two}


def store_sending(session: Session, campaign: Campaign, sending: Mapping[str, Any]) -> None:
    """Upserts the copy of a sending in the caller's transaction.

    Round 1 replaces what the unit sent and keeps any council work; round 2 keeps the
    round-1 copy (the deductions table shows both) and records the new explanation,
    the proposed score and the evidence added since.
    """
    sent = sending["assessment"]
    assessment = session.get(Assessment, sent["id"])
    if assessment is None:
        assessment = Assessment(id=sent["id"], campaign_id=campaign.id, unit_code=sent["unit_code"],
                           unit_name=sent["unit_name"], unit_type=campaign.unit_type,
                           status="sent", round=1, bonus=Decimal(0), penalty=Decimal(0))
        session.add(assessment)
        session.flush()
    if assessment.status == "finalized":
        return
    assessment.round = sent["round"]
    assessment.status = "sent" if sent["round"] == 1 else "resent"
    assessment.proposed_classification = sent.get("proposed_classification")
    assessment.sent_at = datetime.fromisoformat(sent["submitted_at"]) if sent.get(
        "submitted_at") else None
    by_code: dict[str, list[dict[str, Any]]] = {}
    for problem in sending["problems"] or []:
        by_code.setdefault(problem["code"], []).append(problem)
    entries = {e.code: e for e in session.scalars(
        select(Entry).where(Entry.assessment_id == assessment.id))}
    for item in sent["entries"]:
        entry = entries.get(item["code"])
        if entry is None:
            entry = Entry(assessment_id=assessment.id, code=item["code"],
                          max=to_exact(item["max"]), version=1, r1_reason="", r2_reason="",
                          r2_explanation="", r2_evidence=[], needs_supplement=False,
                          returned=False)
            session.add(entry)
        problems = by_code.get(item["code"], [])
        if sent["round"] == 1:
            entry.self_score = None if item["self_score"] is None else to_exact(
                item["self_score"])
            entry.not_applicable = bool(item["not_applicable"])
            entry.explanation = item["explanation"] or ""
            entry.evidence = list(item["evidence"] or [])
            entry.problems = problems
            predicted = [Decimal(p["predicted_score"]) for p in problems
                         if p.get("predicted_score") is not None]
            entry.predicted_score = min(predicted) if predicted else None
        else:
            extra = (sending["round_two"] or {}).get(item["code"])
            if extra is not None:
                sent_in_round_one = {str(e["id"]) for e in entry.evidence or []}
                entry.r2_explanation = extra.get("explanation") or ""
                entry.proposed_score = None if extra.get("proposed_score") is None \
                    else to_exact(extra["proposed_score"])
                entry.r2_evidence = [e for e in item["evidence"] or []
                                     if str(e["id"]) not in sent_in_round_one]
                entry.problems = problems


def assessment(session: Session, assessment_id: int, lock: bool | str = False) -> Assessment:
    """The copy of a sent assessment; ``lock`` True takes it FOR UPDATE (return, finalize,
    adjustments), "share" FOR SHARE (a council score: many at once, none across a return)."""
    if not isinstance(assessment_id, int) or not 0 < assessment_id < 2**31:
        raise not_found("bản đánh giá đã gửi / sent assessment", str(assessment_id))
    query = select(Assessment).where(Assessment.id == assessment_id)
    if lock == "share":
        query = query.with_for_update(read=True)
    elif lock:
        query = query.with_for_update()
    assessment = session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if assessment is None:
        raise not_found("bản đánh giá đã gửi / sent assessment", str(assessment_id))
    return assessment
