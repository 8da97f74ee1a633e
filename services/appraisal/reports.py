"""Báo cáo: per field and criterion across units, a unit's trend, the deductions table.

Reads of appraisal's own tables, set-based: one query per report.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select, type_coerce
from sqlalchemy.orm import Session

from services.appraisal import council
from services.appraisal.models import Assessment, Campaign, Entry, Node
from services.appraisal.results import FINAL, adjustments_out, result_of
from services.common import scoring
from services.common.types import ExactDecimal


def criteria_report(session: Session, campaign: Campaign) -> dict[str, Any]:
    """Per field and criterion: mean, min, max, units at full score, units returned.

    Over the finalized units when there are any (the published figures), else over
    the council's current scores of every sent unit.
    """
    finalized = session.scalar(select(func.count()).where(
        Assessment.campaign_id == campaign.id, Assessment.status == "finalized"))
    scope = [Assessment.campaign_id == campaign.id, Entry.not_applicable.is_(False)]
    if finalized:
        scope.append(Assessment.status == "finalized")
    score = type_coerce(FINAL, ExactDecimal())
    rows = session.execute(
        select(Entry.code, func.count(score), type_coerce(func.sum(score), ExactDecimal()),
               type_coerce(func.min(score), ExactDecimal()),
               type_coerce(func.max(score), ExactDecimal()),
               func.count(case((score >= Entry.max, 1))), func.count(case((Entry.returned, 1))))
        .join(Assessment, Assessment.id == Entry.assessment_id).where(*scope)
        .group_by(Entry.code)).all()
    by_code = {r[0]: r for r in rows}
    nodes = session.scalars(select(Node).where(Node.campaign_id == campaign.id)
                            .order_by(Node.position)).all()
    fields: dict[str, list[Any]] = defaultdict(list)
    for node in nodes:
        if node.is_leaf:
            fields[node.field_code].append(node)
    out = []
    for node in nodes:
        if node.is_leaf:
            row = by_code.get(node.code)
            out.append(_line(node, *(row[1:] if row else (0, None, None, None, 0, 0))))
        elif node.depth == 0:
            leaves = [by_code.get(n.code) for n in fields[node.code]]
            count = max((r[1] for r in leaves if r), default=0)
            total = sum((r[2] or Decimal(0) for r in leaves if r), Decimal(0))
            out.append({"code": node.code, "title": node.title, "kind": "field",
                        "max": scoring.text(node.max), "units": count,
                        "mean": scoring.text(_mean(total, count)),
                        "min": None, "max_score": None, "full_score_units": None,
                        "returned_units": sum(r[6] for r in leaves if r)})
    return {"campaign_id": campaign.id, "name": campaign.name, "year": campaign.year,
            "basis": "final" if finalized else "current", "rows": out}


def _mean(total: Decimal | None, count: int) -> Decimal | None:
    if not count or total is None:
        return None
    return (total / count).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _line(node: Node, count: int, total: Any, low: Any, high: Any, full: int,
          returned: int) -> dict[str, Any]:
    return {"code": node.code, "title": node.title, "kind": "criterion",
            "max": scoring.text(node.max), "units": count,
            "mean": scoring.text(_mean(total, count)), "min": scoring.text(low),
            "max_score": scoring.text(high), "full_score_units": full,
            "returned_units": returned}


def trend(session: Session, unit_code: str) -> list[dict[str, Any]]:
    """The unit's index and each field's score, year by year (published campaigns only)."""
    rows = session.execute(
        select(Campaign, Assessment).join(Assessment, Assessment.campaign_id == Campaign.id)
        .where(Assessment.unit_code == unit_code, Campaign.published_at.is_not(None),
               Assessment.status == "finalized")
        .order_by(Campaign.year, Campaign.id)).all()
    out = []
    for campaign, assessment in rows:
        field_rows = session.execute(
            select(Node.field_code, type_coerce(func.sum(FINAL), ExactDecimal()),
                   type_coerce(func.sum(Entry.max), ExactDecimal()))
            .join(Node, (Node.campaign_id == campaign.id) & (Node.code == Entry.code))
            .where(Entry.assessment_id == assessment.id, Entry.not_applicable.is_(False))
            .group_by(Node.field_code).order_by(Node.field_code)).all()
        titles = dict(session.execute(select(Node.code, Node.title).where(
            Node.campaign_id == campaign.id, Node.depth == 0)).all())
        out.append({"year": campaign.year, "campaign_id": campaign.id,
                    "campaign_name": campaign.name, "index": scoring.text(assessment.index),
                    "total": scoring.text(assessment.total), "max": scoring.text(assessment.max),
                    "classification": assessment.classification, "rank": assessment.rank,
                    "fields": [{"code": f, "title": titles.get(f, ""),
                                "score": scoring.text(s or Decimal(0)),
                                "max": scoring.text(m)} for f, s, m in field_rows]})
    return out


def deductions(session: Session, campaign: Campaign, assessment: Assessment) -> dict[str, Any]:
    """Hà Tĩnh's appendix: each criterion that lost points after round 1.

    Per row: self-score, round-1 score and reason, round-2 explanation and new
    evidence, proposed score, final score; with the totals of each column.
    """
    nodes = {n.code: n for n in session.scalars(select(Node).where(
        Node.campaign_id == campaign.id))}
    entries = session.scalars(select(Entry).where(Entry.assessment_id == assessment.id)
                              .order_by(Entry.id)).all()
    rows, sums = [], defaultdict(lambda: Decimal(0))
    for e in entries:
        if e.not_applicable or e.r1_score is None or e.self_score is None:
            continue
        if e.r1_score >= e.self_score and not e.returned:
            continue
        final = e.r2_score if e.returned and e.r2_score is not None else e.r1_score
        row = {"code": e.code, "title": nodes[e.code].title, "max": nodes[e.code].max,
               "self_score": e.self_score, "round1_score": e.r1_score,
               "round1_reason": e.r1_reason, "returned": e.returned,
               "round2_explanation": e.r2_explanation,
               "round2_evidence": [x.get("name") or str(x.get("id")) for x in e.r2_evidence],
               "proposed_score": e.proposed_score, "final_score": final}
        for key in ("self_score", "round1_score", "final_score"):
            sums[key] += row[key] or Decimal(0)
        sums["proposed_score"] += (e.proposed_score if e.proposed_score is not None
                                   else e.r1_score)
        rows.append(row)
    return {
        "campaign": {"id": campaign.id, "name": campaign.name, "year": campaign.year},
        "unit_code": assessment.unit_code, "unit_name": assessment.unit_name,
        "rows": [{k: (scoring.text(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
                 for r in rows],
        "totals": {k: scoring.text(v) for k, v in sums.items()} if rows else {},
        "lost": scoring.text(sums["self_score"] - sums["final_score"]) if rows else "0",
        "adjustments": adjustments_out(session, assessment.id),
        "result": result_of(assessment),
    }


def unit_view(session: Session, campaign: Campaign, assessment: Assessment) -> dict[str, Any]:
    """What the unit sees of the council's work: returned criteria (red) with reasons,
    and everything once the results are published."""
    published = campaign.published_at is not None
    nodes = {n.code: n for n in session.scalars(select(Node).where(
        Node.campaign_id == campaign.id))}
    entries = session.scalars(select(Entry).where(Entry.assessment_id == assessment.id)
                              .order_by(Entry.id)).all()
    shown = []
    for e in entries:
        if not (published or e.returned):
            continue
        item = council.entry_out(e, nodes[e.code], assessment)
        shown.append({"code": e.code, "title": item["title"], "returned": e.returned,
                      "red": e.returned, "reason": e.r1_reason,
                      "round1": item["round1"] if published or e.returned else None,
                      "round2": item["round2"]})
    return {"assessment_id": assessment.id, "status": assessment.status, "round": assessment.round,
            "published": published, "entries": shown,
            "result": result_of(assessment) if published else None,
            "adjustments": adjustments_out(session, assessment.id) if published else []}


