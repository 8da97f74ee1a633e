"""The council's windows lock at their instant, like the units' (khóa sổ thẩm định).

The same lock as the units' (services/common/windows.py), judged by appraisal's own
database clock: a write takes its window's row ``FOR SHARE``, ``check_open`` refuses it
with 423 unless the window is open and, on PostgreSQL, arms the commit-time trigger
that migration appraisal_0003 installs on ``entries`` and ``changes``; ``commit``
refuses the COMMIT that starts at or after the instant (SQLite: one last clock read).

Windows are created by submission (``add_window``) and copied here
(services/appraisal/sync.py) before the transaction starts; they never change
afterwards, so the copy is the window.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.appraisal.models import Window
from services.common.errors import DomainError
from services.common.windows import check_open, commit, server_now

__all__ = ["APPRAISAL", "FINAL_APPRAISAL", "WINDOW_OF_ROUND", "commit", "open_window",
           "server_now"]

APPRAISAL = "appraisal"
FINAL_APPRAISAL = "final_appraisal"
WINDOW_OF_ROUND = {1: APPRAISAL, 2: FINAL_APPRAISAL}


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
    check_open(session, window)
    return window
