"""The lock instant of a window (khóa sổ), for every service that writes inside one.

The rule (seeds 001–003): no write commits after its window's lock instant, judged by
the database server's clock, never a browser's. How a write and the instant are ordered:

1. ``check_open(session, window)`` reads the server clock (``clock_timestamp()``, the
   wall clock now, not ``now()``, frozen at the transaction's start) and refuses with
   423 unless the window is open. On PostgreSQL the same round trip arms the commit
   check: it sets the transaction-local ``cchc.window_locks_at`` to the instant.
2. On PostgreSQL a deferred constraint trigger (``commit_lock_ddl``, installed by each
   service's migration on the tables its window-bound writes change) runs during
   COMMIT, after all the work, and raises SQLSTATE ``CC423`` when the clock has reached
   the armed instant; the whole transaction rolls back and ``commit`` answers 423. So
   the decision is part of the commit itself: a write whose COMMIT starts after the
   instant never commits, however late it comes.
3. On SQLite (single writer, local runs) there are no triggers of ours: ``commit``
   reads the process clock once more as the last statement before COMMIT.

Writes that are not window-bound (an admin returning criteria) never arm the check.
A service's timer that announces the lock takes the window's row FOR UPDATE, which
waits for every writer still holding it FOR SHARE (see services/submission/persistence.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

from sqlalchemy import Text, cast, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from services.common.errors import DomainError
from services.common.times import VN, as_utc

# The transaction-local setting the commit trigger reads, and the SQLSTATE it raises.
LOCK_SETTING: Final = "cchc.window_locks_at"
LOCKED_SQLSTATE: Final = "CC423"
TRIGGER_FUNCTION: Final = "cchc_commit_before_lock"


class WindowLike(Protocol):
    """A window as any service holds it: its kind and its two instants (aware)."""

    kind: str
    opens_at: datetime
    locks_at: datetime


W = TypeVar("W", bound=WindowLike)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def server_now(session: Session) -> datetime:
    """The database server's clock: the lock is judged by it, never by a client's."""
    if is_postgres(session):
        return session.scalar(text("SELECT clock_timestamp()"))
    return datetime.now(UTC)


def window_state(opens_at: datetime, locks_at: datetime, now: datetime) -> str:
    """``not_open`` before opens_at, ``open`` until the instant, ``locked`` from it on."""
    now = as_utc(now)
    if now < as_utc(opens_at):
        return "not_open"
    if now >= as_utc(locks_at):
        return "locked"
    return "open"


def _shown(moment: datetime) -> str:
    return as_utc(moment).astimezone(VN).isoformat()


def window_closed(kind: str, opens_at: datetime, locks_at: datetime,
                  now: datetime) -> DomainError:
    """423 ``window_locked`` (or ``window_not_open``), in Vietnamese and English."""
    state = window_state(opens_at, locks_at, now)
    shown = _shown(locks_at if state == "locked" else opens_at)
    if state == "locked":
        return DomainError(
            "window_locked",
            f"Đã hết thời hạn cập nhật (khóa lúc {shown}); không thể thay đổi / "
            f"the window locked at {shown}; no change is accepted",
            423,
            {"window": kind, "locks_at": shown},
        )
    return DomainError(
        "window_not_open",
        f"Chưa đến thời hạn cập nhật (mở lúc {shown}) / the window opens at {shown}",
        423,
        {"window": kind, "opens_at": shown},
    )


def arming_columns(locks_at: Any) -> tuple[Any, Any]:
    """PostgreSQL: the columns ``check_open`` reads, to add to a query that already takes
    the window's row, given that row's ``locks_at`` column: the clock, and the setting
    that arms the commit-time check for this transaction.

    They must sit in the outer query over a subquery that takes the row locks: PostgreSQL
    computes a locking query's own columns before it waits for a lock, so a clock read
    there could be older than the lock; an outer query's after it.
    """
    return (func.clock_timestamp(),
            func.set_config(LOCK_SETTING, cast(locks_at, Text), True))


def refuse_unless_open(window: WindowLike, now: datetime) -> datetime:
    """423 unless ``window`` is open at ``now`` (a server clock read); ``now`` otherwise."""
    if window_state(window.opens_at, window.locks_at, now) != "open":
        raise window_closed(window.kind, window.opens_at, window.locks_at, now)
    return now


def check_open(session: Session, window: WindowLike) -> datetime:
    """Reads the server clock; 423 unless ``window`` is open now. Returns the clock.

    On PostgreSQL the same statement arms the commit-time check for this transaction.
    """
    if is_postgres(session):
        now = session.execute(
            text("SELECT clock_timestamp(), set_config(:name, :at, true)"),
            {"name": LOCK_SETTING, "at": as_utc(window.locks_at).isoformat()},
        ).scalar_one()
    else:
        now = datetime.now(UTC)
    return refuse_unless_open(window, now)


def open_window(session: Session, model: type[W], campaign_id: int, kind: str,
                missing: str) -> W:
    """Takes the window's row FOR SHARE; 423 unless it is open at this instant.

    ``model`` is the service's own table of windows (``campaign_id``, ``kind`` and the
    two instants); ``missing`` says in Vietnamese that the campaign has no such window.
    """
    window = session.scalars(
        select(model).where(model.campaign_id == campaign_id, model.kind == kind)
        .with_for_update(read=True).execution_options(populate_existing=True)
    ).one_or_none()
    if window is None:
        raise DomainError("window_not_open", f"{missing} / no window is set for this round",
                          423, {"window": kind})
    check_open(session, window)
    return window


def commit(session: Session, window: WindowLike | None) -> None:
    """COMMIT a write made in ``window`` (None: not window-bound); 423 past its instant.

    PostgreSQL decides inside the COMMIT (the trigger); SQLite by one last clock read.
    The caller rolls back on any exception, as ``session.commit`` leaves it to.
    """
    if window is not None and not is_postgres(session):
        check_open(session, window)
    try:
        session.commit()
    except DBAPIError as exc:
        if window is not None and getattr(exc.orig, "pgcode", None) == LOCKED_SQLSTATE:
            raise window_closed(window.kind, window.opens_at, window.locks_at,
                                as_utc(window.locks_at)) from None
        raise


def commit_lock_ddl(tables: tuple[str, ...]) -> list[str]:
    """PostgreSQL statements installing the commit-time check on ``tables``.

    For a service's migration: ``for sql in commit_lock_ddl(("entries",)): op.execute(sql)``
    when the dialect is PostgreSQL. Deferred constraint triggers run at COMMIT, once per
    changed row; a transaction that armed no instant passes untouched.
    """
    statements = [f"""
        CREATE OR REPLACE FUNCTION {TRIGGER_FUNCTION}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            locks_at text := current_setting('{LOCK_SETTING}', true);
        BEGIN
            IF locks_at IS NOT NULL AND locks_at <> ''
               AND clock_timestamp() >= locks_at::timestamptz THEN
                RAISE EXCEPTION USING ERRCODE = '{LOCKED_SQLSTATE}',
                    MESSAGE = 'window locked at ' || locks_at;
            END IF;
            RETURN NULL;
        END $$"""]
    for table in tables:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_commit_before_lock ON {table}",
            f"CREATE CONSTRAINT TRIGGER {table}_commit_before_lock "
            f"AFTER INSERT OR UPDATE OR DELETE ON {table} "
            f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
            f"EXECUTE FUNCTION {TRIGGER_FUNCTION}()",
        ]
    return statements


def drop_commit_lock_ddl(tables: tuple[str, ...]) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {t}_commit_before_lock ON {t}" for t in tables] + [
        f"DROP FUNCTION IF EXISTS {TRIGGER_FUNCTION}()"]

