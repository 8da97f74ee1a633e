"""Transactional outbox and idempotent consumption.

A service writes its business rows and the event that announces them in one
transaction; the relay publishes pending rows afterwards and marks them sent only
once the broker confirmed. A crash between commit and publish therefore delays an
event, never loses it. The price is at-least-once delivery, so every consumer
claims ``(event_id, handler)`` in the same transaction as its effect.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.common.types import UtcDateTime

# Created in every service's own database by that service's migrations.
metadata = MetaData()

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(100), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("published_at", UtcDateTime, nullable=True, index=True),
)

processed_events = Table(
    "processed_events",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("handler", String(100), primary_key=True),
    Column("processed_at", UtcDateTime, nullable=False),
)


def record_event(session: Session, event_type: str, payload: dict[str, Any]) -> str:
    """Add an event to the caller's transaction; it leaves when the transaction commits."""
    event_id = str(uuid.uuid4())
    session.execute(
        outbox.insert().values(
            event_id=event_id,
            event_type=event_type,
            payload={**payload, "event_id": event_id},
            created_at=datetime.now(UTC),
        )
    )
    return event_id


def record_events(session: Session, event_type: str, payloads: list[dict[str, Any]]) -> None:
    """Many events of one type in the caller's transaction, as one batched INSERT.

    For set-based work (a campaign's 10,000 final results): the same rows as
    ``record_event`` one by one, without a round trip each.
    """
    if not payloads:
        return
    now = datetime.now(UTC)
    rows = []
    for payload in payloads:
        event_id = str(uuid.uuid4())
        rows.append({"event_id": event_id, "event_type": event_type,
                     "payload": {**payload, "event_id": event_id}, "created_at": now})
    session.execute(outbox.insert(), rows)


def publish_pending(
    session: Session, dispatch: Callable[[str, dict[str, Any]], None], limit: int = 100
) -> int:
    """Publish unsent events in order; returns how many left.

    On PostgreSQL, ``SKIP LOCKED`` lets several replicas relay side by side without
    sending a row twice at the same time.
    """
    query = (
        select(outbox.c.id, outbox.c.event_type, outbox.c.payload)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    with session.begin():
        rows = session.execute(query).all()
        for row in rows:
            dispatch(row.event_type, row.payload)
        if rows:
            # One UPDATE for the batch: the rows stay locked until this commits, and a
            # failed publish above leaves them all unsent, to go again (at least once).
            session.execute(
                update(outbox).where(outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=datetime.now(UTC))
            )
    return len(rows)


def backlog(session: Session) -> tuple[int, float]:
    """How many events wait to be published, and the age in seconds of the oldest.

    A growing backlog means the relay cannot reach the broker (or keeps failing):
    acknowledged facts are safe in the table but nobody hears of them yet.
    """
    count, oldest = session.execute(
        select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
    ).one()
    if not count or oldest is None:
        return 0, 0.0
    if oldest.tzinfo is None:  # SQLite hands back naive datetimes, stored as UTC
        oldest = oldest.replace(tzinfo=UTC)
    return int(count), max(0.0, (datetime.now(UTC) - oldest).total_seconds())


def claim_event(session: Session, event_id: str, handler: str) -> bool:
    """Record that ``handler`` processed ``event_id``; False if it already had.

    Call inside the transaction that applies the handler's effect, so the claim and
    the effect commit or roll back together.
    """
    dialect = session.get_bind().dialect.name
    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    result = session.execute(
        insert(processed_events)
        .values(event_id=event_id, handler=handler, processed_at=datetime.now(UTC))
        .on_conflict_do_nothing()
    )
    return result.rowcount == 1
