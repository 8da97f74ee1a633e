"""The council's windows lock at their instant, like the units' (khóa sổ thẩm định).

The same rule as services/submission/store.py, judged in appraisal's own write
transaction by appraisal's own database clock:

1. a write takes its window's row ``FOR SHARE`` and reads ``clock_timestamp()``;
   a write arriving after the instant fails at once with 423;
2. after all its work is flushed it reads the clock again (``assert_still_open``),
   as the last statement before ``COMMIT``: a write straddling the instant rolls back.

Windows are created by submission (``add_window``) and copied here
(services/appraisal/sync.py) before the transaction starts; they never change
afterwards, so the copy is the window. When the shared lock lands in
services/common/ this module becomes a thin call to it: callers only use
``open_window`` and ``assert_still_open``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.appraisal.models import Window
from services.common.errors import DomainError

# The same words and states as the units' lock (moving to services/common/ with it).
from services.common.windows import window_closed, window_state

APPRAISAL = "appraisal"
FINAL_APPRAISAL = "final_appraisal"
WINDOW_OF_ROUND = {1: APPRAISAL, 2: FINAL_APPRAISAL}


def server_now(session: Session) -> datetime:
    """The database server's wall clock (not ``now()``, frozen at the transaction's start)."""
    if session.get_bind().dialect.name == "postgresql":
        return session.scalar(text("SELECT clock_timestamp()"))
    return datetime.now(UTC)


def open_window(session: Session, campaign_id: int, kind: str) -> Window:
    """Takes the window's row FOR SHARE; 423 unless it is open at this instant."""
    window = session.scalars(
        select(Window).where(Window.campaign_id == campaign_id, Window.kind == kind)
        .with_for_update(read=True).execution_options(populate_existing=True)
    ).one_or_none()
    if window is None:
        raise DomainError("window_not_open",
                          "Chưa có thời hạn thẩm định cho vòng này / "
                          "no window is set for this round", 423, {"window": kind})
    assert_still_open(session, window)
    return window


def assert_still_open(session: Session, window: Window) -> datetime:
    """Reads the server clock; 423 unless the window is open at this instant."""
    now = server_now(session)
    if window_state(window.opens_at, window.locks_at, now) != "open":
        raise window_closed(window.kind, window.opens_at, window.locks_at, now)
    return now
