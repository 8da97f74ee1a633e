"""Tables the evidence service owns."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.types import UtcDateTime


class Base(DeclarativeBase):
    pass


class Document(Base):
    """One stored file, by content: linked to any number of criteria, stored once."""

    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    media_type: Mapped[str] = mapped_column(String(100))
    # Signature checks depend on the bytes only, so they are made once per content.
    signature: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Evidence(Base):
    """Tài liệu kiểm chứng: a document proving one criterion of one assessment."""

    __tablename__ = "evidence"
    # The same bytes may be attached again under another description: each attachment
    # keeps its own number, date, title, section and checks (domain.attachment_key).
    __table_args__ = (UniqueConstraint("assessment_id", "code", "attachment_key",
                                       name="uq_evidence_attachment"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("documents.sha256"), index=True)
    attachment_key: Mapped[str] = mapped_column(String(64))
    assessment_id: Mapped[int] = mapped_column(index=True)
    code: Mapped[str] = mapped_column(String(30))
    doc_number: Mapped[str] = mapped_column(String(100))
    doc_date: Mapped[date | None] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(500))
    section: Mapped[str | None] = mapped_column(Text)
    original_name: Mapped[str | None] = mapped_column(String(255))
    canonical_name: Mapped[str] = mapped_column(String(255))
    checks: Mapped[dict[str, Any]] = mapped_column(JSON)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
