"""Tables the appraisal service owns (thẩm định, kết quả, xếp hạng).

What the council works on is copied here when a unit sends (``Assessment``,
``Entry``): the queue, the results of 10,000 units and the reports are then
set-based queries in this database, with no call to another service per unit.
Campaign, windows and the criteria tree are copies too; none of them change after
they are made (windows are only ever added), so a copy never goes stale.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.types import ExactDecimal, UtcDateTime


class Base(DeclarativeBase):
    pass


class Campaign(Base):
    """Đợt đánh giá as appraisal knows it, with its publication."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int] = mapped_column(Integer)
    catalog_id: Mapped[int] = mapped_column(Integer)
    unit_type: Mapped[str] = mapped_column(String(50))
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    bonus_max: Mapped[Decimal] = mapped_column(ExactDecimal)
    penalty_max: Mapped[Decimal] = mapped_column(ExactDecimal)
    unranked_unit_codes: Mapped[list[str]] = mapped_column(JSON)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Window(Base):
    """Thời hạn thẩm định: the council's windows (appraisal, final_appraisal), locked like
    the units' (services/appraisal/lock.py)."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("campaign_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    kind: Mapped[str] = mapped_column(String(30))
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locks_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Node(Base):
    """A node of the campaign's criteria tree: field, criterion or scorable leaf."""

    __tablename__ = "nodes"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    code: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(Text)
    max: Mapped[Decimal] = mapped_column(ExactDecimal)
    depth: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    field_code: Mapped[str] = mapped_column(String(30))
    is_leaf: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    appraised_by: Mapped[str | None] = mapped_column(String(50), nullable=True)


class Assessment(Base):
    """One unit's assessment from the council's side, and its final result."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(50))
    unit_name: Mapped[str] = mapped_column(String(300))
    unit_type: Mapped[str] = mapped_column(String(50))
    # sent (round 1 sent), returned (criteria back to the unit), resent (round 2 sent),
    # finalized (result computed; the council can change nothing more).
    status: Mapped[str] = mapped_column(String(20))
    round: Mapped[int] = mapped_column(Integer)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    proposed_classification: Mapped[str | None] = mapped_column(String(100), nullable=True)
    bonus: Mapped[Decimal] = mapped_column(ExactDecimal, default=Decimal(0))
    penalty: Mapped[Decimal] = mapped_column(ExactDecimal, default=Decimal(0))
    total: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    max: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    index: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    classification: Mapped[str | None] = mapped_column(String(100), nullable=True)
    rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    finalized_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finalized_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Entry(Base):
    """One criterion of one unit, through both rounds (the deductions table's row)."""

    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("assessment_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"))
    code: Mapped[str] = mapped_column(String(30))
    max: Mapped[Decimal] = mapped_column(ExactDecimal)
    # What the unit sent in round 1.
    self_score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    not_applicable: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The pre-send check (submission.precheck): what the council's round starts from.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    predicted_score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    # Round 1 (council).
    r1_score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    r1_reason: Mapped[str] = mapped_column(Text, default="")
    needs_supplement: Mapped[bool] = mapped_column(Boolean, default=False)
    r1_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    r1_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    returned: Mapped[bool] = mapped_column(Boolean, default=False)
    # Round 2: what the unit added, then the council's score.
    r2_explanation: Mapped[str] = mapped_column(Text, default="")
    r2_evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    proposed_score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    r2_score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    r2_reason: Mapped[str] = mapped_column(Text, default="")
    r2_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    r2_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Survey criteria ({kind: survey}): entered by the admin.
    survey_score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


Index("ix_entries_assessment", Entry.assessment_id)


class Adjustment(Base):
    """Điểm thưởng / điểm trừ of one unit, with its reason."""

    __tablename__ = "adjustments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[Decimal] = mapped_column(ExactDecimal)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Comment(Base):
    """Trao đổi: a message between council and unit about one criterion."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(Integer, index=True)
    code: Mapped[str] = mapped_column(String(30))
    author: Mapped[str] = mapped_column(String(100))
    side: Mapped[str] = mapped_column(String(20))  # council | unit | admin
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Change(Base):
    """Lịch sử: every council and admin change, who, when, before and after."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(Integer, index=True)
    code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
