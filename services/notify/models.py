"""Tables the notify service owns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.types import UtcDateTime


class Base(DeclarativeBase):
    pass


class Notification(Base):
    """Thông báo: what one person is told about one event; their inbox shows it.

    ``event_key`` is the event's id, or for a reminder ``reminder:<window>:<minutes>``:
    one notification per (event, person), however often the event arrives.
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("event_key", "username"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    username: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Delivery(Base):
    """Một lần gửi: a notification on one channel (email, zalo) to one address.

    queued → sending (leased by one sender) → sent, or back to queued with a later
    ``next_attempt_at``, or failed (dead letter) after the last attempt.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_key", "username", "channel"),
        # What a sender asks for: its channel's queued rows by due time.
        Index("ix_deliveries_due", "channel", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"), index=True)
    event_key: Mapped[str] = mapped_column(String(100))
    username: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(10))
    address: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Zalo's msg_id, or the Message-ID the email carried.
    provider_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # What the channel's template needs (ZNS template_data, the email's subject and text).
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class Preference(Base):
    """Kênh nhận thông báo: a person may switch email or Zalo off (not everything)."""

    __tablename__ = "preferences"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    email: Mapped[bool] = mapped_column(Boolean, default=True)
    zalo: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WatchedWindow(Base):
    """A window announced by submission (window_opened): its lock and its reminders."""

    __tablename__ = "watched_windows"

    window_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    campaign_id: Mapped[int] = mapped_column(Integer, index=True)
    campaign_name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime())
    locks_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reminders: Mapped[list[int]] = mapped_column(JSON)


class ReminderClaim(Base):
    """One row per (window, minutes before the lock): whoever inserts it sends it.

    Inserted in the transaction that records the reminder's notifications, so with
    several replicas each reminder goes out once. ``sent`` is false for an instant
    that was missed while the service was down and superseded by a later one.
    """

    __tablename__ = "reminder_claims"

    window_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    minutes: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    sent: Mapped[bool] = mapped_column(Boolean)
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ZaloToken(Base):
    """The Official Account's current tokens: a refresh token works once, so every
    replica reads the newest pair here rather than keeping its own."""

    __tablename__ = "zalo_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
