"""The council's windows lock at their instant, with the units' lock (khóa sổ thẩm định).

The rule and its mechanics live in services/common/windows.py: a write takes its
window's row ``FOR SHARE``, ``check_open`` reads the database clock (and on
PostgreSQL arms the commit-time check of the ``entries`` trigger installed by
appraisal's migration 0003), and ``windows.commit`` refuses with 423 a COMMIT that
starts after the instant. All of it runs in appraisal's own write transaction, by
appraisal's own database clock.

Windows are created by submission (``add_window``) and copied here
(services/appraisal/sync.py) before the transaction starts; they never change
afterwards, so the copy is the window.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.appraisal.models import Window
from services.common import windows

APPRAISAL = "appraisal"
FINAL_APPRAISAL = "final_appraisal"
WINDOW_OF_ROUND = {1: APPRAISAL, 2: FINAL_APPRAISAL}
server_now = windows.server_now
commit = windows.commit


def open_window(session: Session, campaign_id: int, kind: str) -> Window:
    """Takes the window's row FOR SHARE; 423 unless it is open at this instant."""
    return windows.open_window(session, Window, campaign_id, kind,
                               "Chưa có thời hạn thẩm định cho vòng này")
