"""Nhật ký: sign-ins, failures, password and role changes, account creation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.identity.models import AuditEntry


def audit(session: Session, action: str, actor: dict[str, Any] | None, subject: str | None,
          ip: str | None, **detail: Any) -> None:
    """Adds an entry to the caller's transaction: it is kept only if the change is."""
    session.add(AuditEntry(at=datetime.now(UTC), action=action,
                           actor=(actor or {}).get("username"), subject=subject, ip=ip,
                           detail=detail))


def entries(session: Session, subject: str | None, action: str | None,
            limit: int) -> list[dict[str, Any]]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
    if subject:
        query = query.where(AuditEntry.subject == subject)
    if action:
        query = query.where(AuditEntry.action == action)
    with session.begin():
        return [
            {"at": e.at.isoformat(), "action": e.action, "actor": e.actor,
             "subject": e.subject, "ip": e.ip, "detail": e.detail}
            for e in session.scalars(query)
        ]
