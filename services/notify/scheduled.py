"""Nhắc hạn: reminders before every lock, to those who have not sent.

submission announces every window (window_opened) with the campaign's
``reminders_minutes_before_lock``; notify keeps the windows it was told about and,
every second, claims the reminders whose instant has come. The claim is a row with
a unique key (window, minutes) inserted in the same transaction as the reminder's
notifications: with several replicas, one of them wins and the others roll back.
Who is reminded is asked from submission at the instant (units not sent, and their
incomplete criteria with assignees), so a unit that sent a minute before gets
nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.db import transaction
from services.notify import fanout, inbox
from services.notify.config import NotifySettings
from services.notify.domain import UNIT_WINDOWS, due_reminders, minutes_left, reminder_key
from services.notify.inbox import dialect_insert
from services.notify.models import ReminderClaim, WatchedWindow


def watch(session: Session, payload: dict[str, Any]) -> None:
    """Keeps (or updates) a window announced by submission."""
    values = {
        "campaign_id": payload["campaign_id"], "campaign_name": payload["campaign_name"],
        "year": payload.get("year") or 0, "kind": payload["kind"],
        "opens_at": datetime.fromisoformat(payload["opens_at"]),
        "locks_at": datetime.fromisoformat(payload["locks_at"]),
        "reminders": sorted({int(m) for m in payload.get("reminders_minutes_before_lock")
                             or []}, reverse=True),
    }
    session.execute(dialect_insert(session)(WatchedWindow)
                    .values(window_id=payload["window_id"], **values)
                    .on_conflict_do_update(index_elements=["window_id"], set_=values))


def _window(w: WatchedWindow) -> dict[str, Any]:
    return {"window_id": w.window_id, "campaign_id": w.campaign_id,
            "campaign_name": w.campaign_name, "kind": w.kind, "locks_at": w.locks_at}


def send_reminders(session: Session, submission: Any, identity: Any, cfg: NotifySettings,
                   clock: Callable[[], datetime]) -> int:
    """Claims and records every reminder due now; returns how many notices it wrote."""
    now = clock()
    with transaction(session):
        windows = list(session.scalars(select(WatchedWindow).where(
            WatchedWindow.locks_at > now, WatchedWindow.opens_at <= now,
            WatchedWindow.kind.in_(sorted(UNIT_WINDOWS)))))
        claimed: dict[int, set[int]] = {w.window_id: set() for w in windows}
        if windows:
            for claim in session.scalars(select(ReminderClaim).where(
                    ReminderClaim.window_id.in_(list(claimed)))):
                claimed[claim.window_id].add(claim.minutes)
        for w in windows:
            session.expunge(w)
    written = 0
    for w in windows:
        due = due_reminders(w.window_id, w.opens_at, w.locks_at, w.reminders,
                            claimed[w.window_id], now)
        if not due:
            continue
        sending = next((d for d in due if d.send), None)
        notices = []
        if sending is not None:
            pending = submission.pending_units(w.campaign_id, w.kind)
            notices = fanout.reminder(_window(w), minutes_left(w.locks_at, clock()),
                                      pending, identity)
        with transaction(session):
            at = clock()
            if at >= w.locks_at:
                # The lock came while we asked: nothing after it.
                continue
            won = True
            for d in due:
                inserted = session.execute(dialect_insert(session)(ReminderClaim).values(
                    window_id=w.window_id, minutes=d.minutes, sent=d.send,
                    recipients=len(notices) if d.send else 0, claimed_at=at,
                ).on_conflict_do_nothing()).rowcount
                if d.send and inserted != 1:
                    won = False
            if not won:
                session.rollback()
                continue
            if sending is not None:
                written += inbox.record(session, reminder_key(w.window_id, sending.minutes),
                                        notices, cfg, at)
    return written
