"""Tables the identity service owns."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.types import UtcDateTime
from services.identity.domain import Throttle


class Base(DeclarativeBase):
    pass


class Unit(Base):
    """Cơ quan, đơn vị, địa phương: a department, commune, district, public service unit."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    type: Mapped[str] = mapped_column(String(50), index=True)
    parent_code: Mapped[str | None] = mapped_column(String(50), nullable=True)


class User(Base):
    """Người dùng: a civil servant with roles in a unit or an appraising department."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), nullable=True)
    zalo_phone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    department_code: Mapped[str | None] = mapped_column(String(50), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Refresh tokens issued before this instant stop working: a changed password ends
    # the sessions opened with the old one.
    credentials_changed_at: Mapped[datetime | None] = mapped_column(
        UtcDateTime, nullable=True
    )


class SigningKey(Base):
    """An RS256 key of the local OpenID provider; kept so tokens survive a restart.

    Every key stays in the published JWK set until retired, so tokens signed before a
    rotation still verify until they expire.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    private_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    retired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class SignInThrottle(Base):
    """Failed sign-ins of one username, shared by every gateway replica.

    Keyed by the name typed, not by an existing account, so probing unknown names is
    slowed down the same way and does not reveal which accounts exist.
    """

    __tablename__ = "sign_in_throttle"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AuditEntry(Base):
    """Nhật ký: who did what to which account, when, from where."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    action: Mapped[str] = mapped_column(String(50), index=True)
    actor: Mapped[str | None] = mapped_column(String(100), nullable=True)
    subject: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def as_utc(at: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; every instant here was stored in UTC."""
    if at is not None and at.tzinfo is None:
        return at.replace(tzinfo=UTC)
    return at


def throttle_state(row: SignInThrottle | None) -> Throttle | None:
    if row is None:
        return None
    return Throttle(row.failures, as_utc(row.window_started_at), as_utc(row.locked_until))


class SignInSession(Base):
    """Phiên đăng nhập: one sign-in and every token pair refreshed from it (a family).

    Ended by sign-out, or when a refresh token of the family is presented a second
    time: a copy of it is in someone else's hands, so nobody keeps the session.
    """

    __tablename__ = "sign_in_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(30), nullable=True)


class RefreshToken(Base):
    """A refresh token issued by the local provider; it works once."""

    __tablename__ = "refresh_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
