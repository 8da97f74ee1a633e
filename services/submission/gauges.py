"""Gauges for the operators before a lock: units sent and not, and when the window locks.

Measured from the database by the service's ``measure`` timer, so every replica exports
the same numbers; deploy/prometheus/alerts.yml's CCHCLockApproachingManyUnitsUnsent
reads them (with ``max``) to warn while there is still time to call the units.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.metrics import CAMPAIGN_UNITS, WINDOW_LOCKS_AT
from services.common.windows import as_utc
from services.submission import domain
from services.submission.models import Assessment, Window

# The windows in which units write and send; the council's rounds have no "sent".
UNIT_WINDOWS = (domain.SELF_ASSESSMENT, domain.SUPPLEMENT)
SENT = "submitted"

_exported: set[tuple[str, str]] = set()


def measure_campaigns(session: Session, now: datetime | None = None) -> None:
    """Sets the gauges for every units' window open now and drops those that closed."""
    now = now or datetime.now(UTC)
    windows = [
        w for w in session.scalars(
            select(Window).where(Window.kind.in_(UNIT_WINDOWS), Window.locks_at > now)
        )
        if as_utc(w.opens_at) <= now < as_utc(w.locks_at)
    ]
    campaign_ids = {w.campaign_id for w in windows}
    counts: dict[int, dict[str, int]] = {cid: {"sent": 0, "unsent": 0} for cid in campaign_ids}
    if campaign_ids:
        rows = session.execute(
            select(Assessment.campaign_id, Assessment.status, func.count())
            .where(Assessment.campaign_id.in_(campaign_ids))
            .group_by(Assessment.campaign_id, Assessment.status)
        )
        for campaign_id, status, count in rows:
            counts[campaign_id]["sent" if status == SENT else "unsent"] += count
    current: set[tuple[str, str]] = set()
    for window in windows:
        labels = (str(window.campaign_id), window.kind)
        current.add(labels)
        WINDOW_LOCKS_AT.labels(*labels).set(as_utc(window.locks_at).timestamp())
        for state, count in counts[window.campaign_id].items():
            CAMPAIGN_UNITS.labels(*labels, state).set(count)
    for labels in _exported - current:
        WINDOW_LOCKS_AT.remove(*labels)
        for state in ("sent", "unsent"):
            CAMPAIGN_UNITS.remove(*labels, state)
    _exported.clear()
    _exported.update(current)
