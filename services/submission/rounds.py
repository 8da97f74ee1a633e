"""Vòng 2 (bổ sung): what a unit changes on its returned criteria, and nothing else.

After the admin returns criteria (``return_entries``), the unit works in the
``supplement`` window on those criteria only: a new explanation and a proposed
score here (``supplement_entry``), new evidence through the usual evidence path
(``attach_evidence`` already refuses criteria that were not returned), then the
leader sends again with a signed round-2 report through ``submit``. Round 1's
explanation and score stay as they were sent: the council's deductions table shows
both rounds side by side, so round 2 is kept in a table of its own.

Every write here takes the same lock as the unit's other writes
(services/submission/persistence.py): the supplement window's row FOR SHARE and the
database clock, checked again as the last statement before COMMIT.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from services.common import scoring
from services.common.errors import DomainError, invalid
from services.common.times import vn_iso
from services.common.types import ExactDecimal, UtcDateTime
from services.common.validation import parse
from services.submission import domain, persistence
from services.submission.models import Base, Window
from services.submission.schemas import Actor


class Supplement(Base):
    """Bổ sung vòng 2 of one returned criterion: explanation and proposed score."""

    __tablename__ = "supplements"
    __table_args__ = (UniqueConstraint("assessment_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    explanation: Mapped[str] = mapped_column(Text, default="")
    proposed_score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


def initial_status(leaf: dict[str, Any]) -> str:
    """A survey criterion is scored by the admin, never by the unit: nothing to complete."""
    return "complete" if (leaf.get("rule") or {}).get("kind") == "survey" else "draft"


def _proposed(raw: Any, maximum: Decimal) -> Decimal | None:
    if raw is None:
        return None
    try:
        value = Decimal(str(raw).replace(",", ".")) if not isinstance(raw, bool) else None
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or value < 0 or value > maximum:
        raise DomainError("score_rejected",
                          f"Điểm đề xuất phải từ 0 đến {scoring.text(maximum)} / the proposed "
                          f"score must be between 0 and {scoring.text(maximum)}", 422)
    return value


class RoundTwo:
    """Entrypoints of round 2, inherited by the submission Service."""

    @rpc(expected_exceptions=DomainError)
    def supplement_entry(self, assessment_id: int, code: str, data: dict[str, Any],
                         actor: dict[str, Any]) -> dict[str, Any]:
        """Bổ sung: new explanation and proposed score of a returned criterion (423 after
        the supplement window locks or on a criterion that was not returned)."""
        who = parse(Actor, actor)
        if not isinstance(data, dict) or not isinstance(data.get("explanation", ""), str):
            raise invalid("Thuyết minh bổ sung và điểm đề xuất / explanation and proposed_score")
        explanation = str(data.get("explanation") or "").strip()
        if not explanation:
            raise DomainError("explanation_missing",
                              "Phải có thuyết minh bổ sung / a round-2 explanation is required",
                              422)

        def work() -> tuple[dict[str, Any], Window | None]:
            found, entry, node, window, now = self._writable_entry(assessment_id, code, who)
            if found.status != "returned":
                raise DomainError("not_returned",
                                  "Chỉ bổ sung được tiêu chí được trả lại / only returned "
                                  "criteria take a supplement", 423)
            proposed = _proposed(data.get("proposed_score"), node.max)
            row = self.db.scalars(select(Supplement).where(
                Supplement.assessment_id == assessment_id, Supplement.code == code)).first()
            before = None if row is None else _out(row)
            if row is None:
                row = Supplement(assessment_id=assessment_id, code=code)
                self.db.add(row)
            row.explanation, row.proposed_score = explanation, proposed
            row.updated_at, row.updated_by = now, who.username
            # Complete again once the criterion's own rule is met (evidence where needed),
            # so the leader can send round 2 without a separate step.
            problems = domain.completion_problems(
                score=entry.score if proposed is None else proposed,
                not_applicable=entry.not_applicable, explanation=explanation,
                evidence=entry.evidence, evidence_rule=node.evidence)
            entry.status = "draft" if problems else "complete"
            entry.version += 1
            entry.updated_at, entry.updated_by = now, who.username
            persistence.record_change(self.db, assessment_id, code, "supplement", who.username, now,
                                before, _out(row))
            return {**_out(row), "status": entry.status, "version": entry.version,
                    "problems": problems}, window

        return self._idempotent(who, None, "supplement_entry", (), work)

    @rpc(expected_exceptions=DomainError)
    def round_two(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """``{code: {explanation, proposed_score, updated_at, updated_by}}`` of round 2."""
        who = parse(Actor, actor)
        found = persistence.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), found.unit_code)
        rows = self.db.scalars(select(Supplement).where(
            Supplement.assessment_id == assessment_id)).all()
        return {r.code: _out(r) for r in rows}


def _out(row: Supplement) -> dict[str, Any]:
    return {"code": row.code, "explanation": row.explanation,
            "proposed_score": scoring.text(row.proposed_score),
            "updated_at": vn_iso(row.updated_at), "updated_by": row.updated_by}


