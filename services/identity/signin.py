"""Lockout after repeated failed sign-ins, counted in the identity database.

Every gateway replica asks here, so a person guessing passwords is slowed down
however the requests are spread.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.common.errors import DomainError
from services.identity.audit import audit
from services.identity.config import IdentitySettings
from services.identity.domain import LockoutPolicy, after_failure, retry_after
from services.identity.models import SignInThrottle, throttle_state


def policy(cfg: IdentitySettings) -> LockoutPolicy:
    return LockoutPolicy(cfg.lockout_failures, timedelta(seconds=cfg.lockout_window_seconds),
                         timedelta(seconds=cfg.lockout_seconds))


def seconds_locked(session: Session, username: str) -> int:
    """How long the name stays locked; 0 when it may sign in."""
    with session.begin():
        return retry_after(throttle_state(session.get(SignInThrottle, username)),
                           datetime.now(UTC))


def gate(session: Session, username: str) -> None:
    """Raises 429 ``account_locked`` while the name is locked."""
    wait = seconds_locked(session, username)
    if wait:
        raise locked(wait)


def record(session: Session, username: str, ok: bool, ip: str | None, reason: str | None,
           lockout: LockoutPolicy) -> dict[str, Any]:
    try:
        return _record(session, username, ok, ip, reason, lockout)
    except IntegrityError:
        # Two replicas counted the first failure of a name at once: count it again,
        # now that the row exists and its lock serialises us.
        return _record(session, username, ok, ip, reason, lockout)


def _record(session: Session, username: str, ok: bool, ip: str | None, reason: str | None,
            lockout: LockoutPolicy) -> dict[str, Any]:
    now = datetime.now(UTC)
    with session.begin():
        row = session.get(SignInThrottle, username, with_for_update=True)
        if ok:
            if row is not None:
                session.delete(row)
            audit(session, "sign_in", {"username": username}, username, ip)
            return {"locked": False, "retry_after": 0}
        state = after_failure(throttle_state(row), now, lockout)
        if row is None:
            row = SignInThrottle(username=username)
            session.add(row)
        row.failures = state.failures
        row.window_started_at = state.window_started_at
        row.locked_until = state.locked_until
        wait = retry_after(state, now)
        audit(session, "sign_in_failed", None, username, ip, reason=reason or "bad_credentials",
              failures=state.failures, locked=bool(wait))
    return {"locked": bool(wait), "retry_after": wait}


def purge(session: Session, lockout: LockoutPolicy) -> int:
    """Forgets counts whose window and lock are over, so made-up names do not pile up."""
    now = datetime.now(UTC)
    with session.begin():
        result = session.execute(
            delete(SignInThrottle)
            .where(SignInThrottle.window_started_at < now - lockout.window)
            .where(or_(SignInThrottle.locked_until.is_(None),
                       SignInThrottle.locked_until < now))
        )
    return result.rowcount


def locked(wait: int) -> DomainError:
    return DomainError(
        "account_locked",
        f"Tài khoản tạm khoá do đăng nhập sai nhiều lần, thử lại sau {wait} giây / "
        f"too many failed sign-ins, try again in {wait} seconds",
        429, {"retry_after": wait},
    )
