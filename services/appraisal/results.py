"""Kết quả: survey points, bonus and penalty, the final result, ranking and publication.

The final result of one unit or of the whole campaign is one set-based query in
appraisal's own database (per unit: the applicable criteria's final scores and
maxima summed by the database), then the one pure computation of
services/common/scoring.py per unit, written back in one statement. Publication
ranks every finalized unit within its unit type (scoring.ranks) and announces it.
No call to another service per unit: 10,000 units × 100 criteria publish in seconds
(bench/appraisal_results.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, insert, select, text, type_coerce, update
from sqlalchemy.orm import Session

from services.appraisal import domain
from services.appraisal.council import record_change
from services.appraisal.lock import server_now
from services.appraisal.models import Adjustment, Assessment, Campaign, Change, Entry, Node
from services.common import scoring
from services.common.contracts import ASSESSMENT_FINALIZED, RESULTS_PUBLISHED
from services.common.errors import DomainError, invalid
from services.common.outbox import record_event, record_events
from services.common.times import vn_iso
from services.common.types import ExactDecimal

# Điểm cuối cùng of a criterion, as SQL: domain.final_score says the same per entry.
# A survey criterion never has a council score, so its survey score comes last.
FINAL = func.coalesce(case((Entry.returned, Entry.r2_score)), Entry.r1_score,
                      Entry.survey_score)


def refuse_if_published(campaign: Campaign) -> None:
    if campaign.published_at is not None:
        raise DomainError("results_published",
                          "Kết quả đã công bố; không thể thay đổi / the results are "
                          "published; nothing can change", 409)


def set_survey(session: Session, campaign: Campaign, scores: Mapping[str, Any],
               actor: str) -> dict[str, int]:
    """``{unit_code: {code: score}}`` for criteria whose rule is ``{kind: survey}``."""
    refuse_if_published(campaign)
    if not isinstance(scores, Mapping) or not all(isinstance(v, Mapping)
                                                  for v in scores.values()):
        raise invalid("Điểm điều tra là {mã đơn vị: {mã tiêu chí: điểm}} / "
                      "survey scores are {unit_code: {code: score}}")
    survey_nodes = {n.code: n for n in session.scalars(select(Node).where(
        Node.campaign_id == campaign.id, Node.is_leaf.is_(True)))
        if (n.rule or {}).get("kind") == "survey"}
    units = {a.unit_code: a for a in session.scalars(select(Assessment).where(
        Assessment.campaign_id == campaign.id, Assessment.unit_code.in_(list(scores))))}
    unknown_units = sorted(set(scores) - set(units))
    if unknown_units:
        raise DomainError("unknown_units",
                          f"Đơn vị chưa gửi báo cáo hoặc không thuộc đợt / units not sent or "
                          f"not in the campaign: {', '.join(unknown_units)}", 422,
                          {"unit_codes": unknown_units})
    now = server_now(session)
    plan = []
    for unit_code, by_code in scores.items():
        for code, raw in by_code.items():
            node = survey_nodes.get(code)
            if node is None:
                raise DomainError("not_survey",
                                  f"Tiêu chí {code} không chấm bằng điều tra / criterion {code} "
                                  f"is not a survey criterion", 422, {"criterion": code})
            score = domain.council_score(node.rule, node.max, raw)
            plan.append((units[unit_code], code, score))
    for assessment, code, score in plan:
        if assessment.status == "finalized":
            raise DomainError("assessment_finalized",
                              f"Kết quả của {assessment.unit_code} đã chốt / the result of "
                              f"{assessment.unit_code} is final", 409)
        entry = session.scalars(select(Entry).where(Entry.assessment_id == assessment.id,
                                                    Entry.code == code)).one()
        before = {"survey_score": scoring.text(entry.survey_score)}
        entry.survey_score = score
        entry.version += 1
        record_change(session, assessment.id, code, "survey", actor, now, before,
                      {"survey_score": scoring.text(score)})
    return {"saved": len(plan)}


def set_adjustments(session: Session, campaign: Campaign, assessment: Assessment,
                    items: Sequence[Mapping[str, Any]], actor: str) -> dict[str, Any]:
    """Replaces the unit's bonus and penalty lines (capped by the set)."""
    refuse_if_published(campaign)
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise invalid("Danh sách điểm thưởng/trừ / a list of {kind, points, reason}")
    if assessment.status == "finalized":
        raise DomainError("assessment_finalized", "Kết quả đã chốt / the result is final", 409)
    lines = domain.adjustments([dict(i) if isinstance(i, Mapping) else {} for i in items],
                               campaign.bonus_max, campaign.penalty_max)
    now = server_now(session)
    before = adjustments_out(session, assessment.id)
    session.query(Adjustment).filter(Adjustment.assessment_id == assessment.id).delete()
    session.add_all(Adjustment(assessment_id=assessment.id, created_by=actor, created_at=now,
                               **line) for line in lines)
    assessment.bonus = sum((li["points"] for li in lines if li["kind"] == domain.BONUS), Decimal(0))
    assessment.penalty = sum((li["points"] for li in lines if li["kind"] == domain.PENALTY),
                        Decimal(0))
    session.flush()
    after = adjustments_out(session, assessment.id)
    record_change(session, assessment.id, None, "adjustments", actor, now, {"items": before},
                  {"items": after})
    return {"assessment_id": assessment.id, "items": after, "bonus": scoring.text(assessment.bonus),
            "penalty": scoring.text(assessment.penalty)}


def adjustments_out(session: Session, assessment_id: int) -> list[dict[str, Any]]:
    return [{"kind": a.kind, "points": scoring.text(a.points), "reason": a.reason}
            for a in session.scalars(select(Adjustment).where(
                Adjustment.assessment_id == assessment_id).order_by(Adjustment.id))]


def _sums(session: Session, campaign_id: int, assessment_ids: Sequence[int] | None):
    applicable = Entry.not_applicable.is_(False)
    query = (
        select(Entry.assessment_id,
               type_coerce(func.sum(case((applicable, FINAL))), ExactDecimal()),
               type_coerce(func.sum(case((applicable, Entry.max))), ExactDecimal()),
               func.count(case((and_(applicable, FINAL.is_(None)), 1))))
        .join(Assessment, Assessment.id == Entry.assessment_id)
        .where(Assessment.campaign_id == campaign_id,
               Assessment.status.in_(("sent", "returned", "resent", "finalized")))
        .group_by(Entry.assessment_id)
    )
    if assessment_ids is not None:
        query = query.where(Entry.assessment_id.in_(assessment_ids))
    return session.execute(query).all()


def finalize(session: Session, campaign: Campaign, assessment_ids: Sequence[int] | None,
             actor: str) -> list[dict[str, Any]]:
    """Chốt kết quả: final scores, total, index and band of these units (None: all sent).

    All or nothing: 422 ``appraisal_incomplete`` names every unit with a criterion the
    council has not scored or a survey score not yet entered.
    """
    refuse_if_published(campaign)
    sums = _sums(session, campaign.id, assessment_ids)
    missing = [row[0] for row in sums if row[3]]
    if missing:
        codes = _missing_codes(session, missing)
        raise DomainError("appraisal_incomplete",
                          f"Còn {len(codes)} đơn vị có tiêu chí chưa chấm hoặc thiếu điểm điều "
                          f"tra / {len(codes)} units have criteria without a final score",
                          422, {"missing": codes})
    adjust = dict(session.execute(select(Assessment.id, Assessment.bonus - Assessment.penalty)
                                  .where(Assessment.campaign_id == campaign.id)).all()) \
        if assessment_ids is None else {
            a.id: a.bonus - a.penalty for a in session.scalars(
                select(Assessment).where(Assessment.id.in_(assessment_ids)))}
    now = server_now(session)
    rows = []
    for assessment_id, total, maximum, _ in sums:
        net = Decimal(adjust.get(assessment_id) or 0)
        res = scoring.result_from_sums(total, maximum, campaign.bands,
                                       bonus=max(net, Decimal(0)), penalty=max(-net, Decimal(0)))
        rows.append({"id": assessment_id, "total": res.total, "max": res.max,
                     "index": res.index, "classification": res.classification})
    write_rows(session, rows, {"status": "finalized", "finalized_at": now,
                               "finalized_by": actor})
    announce_final(session, campaign, rows, actor, now)
    return rows


def announce_final(session: Session, campaign: Campaign, rows: list[dict[str, Any]],
                   actor: str, now: Any) -> None:
    """The history row and the ``assessment_finalized`` event of each unit.

    On PostgreSQL both are made by the server from the rows just written, one
    INSERT … SELECT each: for 10,000 units building and sending 20,000 rows from
    Python took seconds. The payload is the same as ``scoring.Result.as_json``
    (``trim_scale`` spells 82.50 as 82.5, like ``scoring.text``); the services' tests
    compare both paths.
    """
    if not rows:
        return
    ids = [r["id"] for r in rows]
    if session.get_bind().dialect.name == "postgresql":
        picked = "FROM assessments a WHERE a.id = ANY(:ids)"
        session.execute(text(f"INSERT INTO changes (assessment_id, action, actor, at, after) "
                             f"SELECT a.id, 'finalize', :actor, :now, {_payload_sql()} "
                             f"{picked}"), {"ids": ids, "actor": actor, "now": now})
        with_id = _payload_sql("e", extra=", 'event_id', e.event_id")
        session.execute(text(
            f"INSERT INTO outbox (event_id, event_type, payload, created_at) "
            f"SELECT e.event_id, :kind, {with_id}, "
            f":now FROM (SELECT gen_random_uuid()::text AS event_id, a.* {picked}) e "
            f"ORDER BY e.id"),
            {"ids": ids, "kind": ASSESSMENT_FINALIZED, "now": now})
        return
    codes = dict(session.execute(select(Assessment.id, Assessment.unit_code).where(
        Assessment.id.in_(ids))).all())
    payloads = [{"assessment_id": r["id"], "campaign_id": campaign.id,
                 "unit_code": codes[r["id"]],
                 **scoring.Result(r["total"], r["max"], r["index"],
                                  r["classification"]).as_json()} for r in rows]
    session.execute(insert(Change), [
        {"assessment_id": p["assessment_id"], "code": None, "action": "finalize",
         "actor": actor, "at": now, "before": None, "after": p} for p in payloads])
    record_events(session, ASSESSMENT_FINALIZED, payloads)


def _payload_sql(t: str = "a", extra: str = "") -> str:
    """``scoring.Result.as_json`` plus the unit, as PostgreSQL's JSON of row alias ``t``."""
    return (f"json_build_object('assessment_id', {t}.id, 'campaign_id', {t}.campaign_id, "
            f"'unit_code', {t}.unit_code, 'total', trim_scale({t}.total)::text, "
            f"'max', trim_scale({t}.max)::text, 'index', trim_scale({t}.index)::text, "
            f"'classification', {t}.classification{extra})")


def _missing_codes(session: Session, assessment_ids: list[int]) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Assessment.unit_code, Entry.code)
        .join(Entry, Entry.assessment_id == Assessment.id)
        .where(Assessment.id.in_(assessment_ids[:100]), Entry.not_applicable.is_(False),
               FINAL.is_(None)).order_by(Assessment.unit_code, Entry.code)).all()
    out: dict[str, list[str]] = {}
    for unit_code, code in rows:
        out.setdefault(unit_code, []).append(code)
    return [{"unit_code": u, "codes": c} for u, c in out.items()]


def write_rows(session: Session, rows: list[dict[str, Any]], same: dict[str, Any]) -> None:
    """Writes per-unit values (and ``same`` for all of them) in one statement on PostgreSQL."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(update(Assessment), [{**r, **same} for r in rows])
        return
    columns = [k for k in rows[0] if k != "id"]
    types = {"total": "numeric", "max": "numeric", "index": "numeric",
             "classification": "text", "rank": "int"}
    data = json.dumps([{k: (str(v) if isinstance(v, Decimal) else v) for k, v in r.items()}
                       for r in rows])
    sets = ", ".join([f'"{c}" = v."{c}"' for c in columns]
                     + [f'"{c}" = :{c}' for c in same])
    record = ", ".join(["id int"] + [f'"{c}" {types[c]}' for c in columns])
    session.execute(text(f"UPDATE assessments SET {sets} FROM json_to_recordset(:data) "
                         f"AS v({record}) WHERE assessments.id = v.id"),
                    {"data": data, **same})


def publish(session: Session, campaign: Campaign, unit_codes: Sequence[str],
            actor: str) -> dict[str, Any]:
    """Công bố: every unit of the campaign must be finalized; ranks are set; all may see.

    Publishing again answers as the first time and changes nothing.
    """
    if campaign.published_at is not None:
        return published_out(campaign, unit_codes)
    final = dict(session.execute(
        select(Assessment.unit_code, Assessment.status).where(
            Assessment.campaign_id == campaign.id)).all())
    pending = sorted(u for u in unit_codes if final.get(u) != "finalized")
    if pending:
        raise DomainError("not_finalized",
                          f"Còn {len(pending)} đơn vị chưa chốt kết quả / {len(pending)} units "
                          f"have no final result", 409, {"unit_codes": pending[:200]})
    rows = session.execute(select(Assessment.id, Assessment.unit_type, Assessment.index,
                                  Assessment.unit_code)
                           .where(Assessment.campaign_id == campaign.id)).all()
    unranked = set(campaign.unranked_unit_codes or [])
    ranked = scoring.ranks(((r.id, r.unit_type, r.index) for r in rows),
                           unranked=[r.id for r in rows if r.unit_code in unranked])
    write_rows(session, [{"id": k, "rank": v} for k, v in ranked.items()], {})
    now = server_now(session)
    campaign.published_at, campaign.published_by = now, actor
    record_event(session, RESULTS_PUBLISHED, {
        "campaign_id": campaign.id, "name": campaign.name, "year": campaign.year,
        "published_at": vn_iso(now), "unit_codes": sorted(unit_codes)})
    return published_out(campaign, unit_codes)


def published_out(campaign: Campaign, unit_codes: Sequence[str]) -> dict[str, Any]:
    return {"campaign_id": campaign.id, "published_at": vn_iso(campaign.published_at),
            "published_by": campaign.published_by, "units": len(unit_codes)}


def results(session: Session, campaign: Campaign) -> list[dict[str, Any]]:
    """``[{unit_code, unit_name, unit_type, total, max, index, classification, rank}]``."""
    rows = session.scalars(select(Assessment).where(
        Assessment.campaign_id == campaign.id, Assessment.status == "finalized")
        .order_by(Assessment.unit_type, Assessment.rank.is_(None), Assessment.rank,
                  Assessment.unit_code)).all()
    unranked = set(campaign.unranked_unit_codes or [])
    return [{"assessment_id": a.id, "unit_code": a.unit_code, "unit_name": a.unit_name,
             "unit_type": a.unit_type, "total": scoring.text(a.total),
             "max": scoring.text(a.max), "index": scoring.text(a.index),
             "classification": a.classification, "rank": a.rank,
             "ranked": a.unit_code not in unranked,
             "bonus": scoring.text(a.bonus), "penalty": scoring.text(a.penalty),
             "proposed_classification": a.proposed_classification,
             "finalized_at": vn_iso(a.finalized_at)} for a in rows]


def result_of(assessment: Assessment) -> dict[str, Any]:
    return {"assessment_id": assessment.id, "unit_code": assessment.unit_code,
            "status": assessment.status, "total": scoring.text(assessment.total),
            "max": scoring.text(assessment.max), "index": scoring.text(assessment.index),
            "classification": assessment.classification, "rank": assessment.rank,
            "bonus": scoring.text(assessment.bonus), "penalty": scoring.text(assessment.penalty),
            "finalized_at": vn_iso(assessment.finalized_at)}


