"""Tables the submission service owns."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.idempotency import IdempotentResponseMixin
from services.common.types import ExactDecimal, UtcDateTime

# Scores are exact decimals on every backend (a scaled integer on SQLite, where
# Numeric goes through float); four places leave room for any step a set may use.
Score = ExactDecimal


class Base(DeclarativeBase):
    pass


class Campaign(Base):
    """Đợt đánh giá: a criteria-set version, the units in it, its windows."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int] = mapped_column(Integer)
    catalog_id: Mapped[int] = mapped_column(Integer)
    # Copied from the set at creation: the proposed classification must be one of them.
    bands: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # Ngày chốt số liệu: documents dated after it do not count (precheck warns).
    data_cutoff_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Minutes before each lock when the unsent are reminded (read by notify).
    reminders_minutes_before_lock: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Assessed and published, never ranked.
    unranked_unit_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Window(Base):
    """Thời hạn: a period in which units (or the council) may write; it locks at its instant."""

    __tablename__ = "windows"
    __table_args__ = (UniqueConstraint("campaign_id", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locks_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # Set once the window_locked event is in the outbox, so it is published once.
    lock_announced_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, nullable=True
    )


class Node(Base):
    """Tiêu chí: the campaign's copy of a criteria-set node (its tree, maxima, rules' flags).

    Copied when the campaign is created (the set is then immutable), so assignment,
    completion and totals need no call to the criteria service on every save.
    """

    __tablename__ = "nodes"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    position: Mapped[int] = mapped_column(Integer)
    depth: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text)
    max: Mapped[Decimal] = mapped_column(Score)
    is_leaf: Mapped[bool] = mapped_column(Boolean)
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    evidence: Mapped[str] = mapped_column(String(20))
    not_applicable_allowed: Mapped[bool] = mapped_column(Boolean)


class Assessment(Base):
    """Bản tự đánh giá: one unit in one campaign."""

    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    unit_code: Mapped[str] = mapped_column(String(50), index=True)
    unit_name: Mapped[str] = mapped_column(String(300))
    # draft → submitted → returned (a round reopened for returned criteria) → submitted
    status: Mapped[str] = mapped_column(String(20), default="draft")
    proposed_classification: Mapped[str | None] = mapped_column(String(100), nullable=True)
    signed_summary: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    submitted_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Entry(Base):
    """Một tiêu chí của đơn vị: score inputs, score, explanation, evidence, status."""

    __tablename__ = "entries"
    __table_args__ = (UniqueConstraint("assessment_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    code: Mapped[str] = mapped_column(String(30))
    assignee: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    score: Mapped[Decimal | None] = mapped_column(Score, nullable=True)
    max: Mapped[Decimal] = mapped_column(Score)
    not_applicable: Mapped[bool] = mapped_column(Boolean, default=False)
    explanation: Mapped[str] = mapped_column(Text, default="")
    # [{id, name}] filled by the evidence service through attach_evidence.
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    # Returned by the council in the current round: only these may change then.
    # Trả lại bổ sung: the council returned it for the supplement round.
    returned: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Change(Base):
    """Lịch sử thay đổi: who changed what, when, before and after."""

    __tablename__ = "changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("assessments.id"), index=True)
    code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    action: Mapped[str] = mapped_column(String(30))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class IdempotentResponse(IdempotentResponseMixin, Base):
    """The first answer to a write sent with an ``Idempotency-Key``.

    Stored in the write's own transaction: the key exists exactly when the write
    committed, so a retry after a crash or a lost reply either replays or redoes.
    """

    __tablename__ = "idempotent_responses"
