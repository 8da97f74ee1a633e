"""Submission service: campaigns, windows and their locks, assessments, entries.

(Đợt đánh giá, thời hạn và khóa sổ, bản tự đánh giá, tiêu chí.) Every score comes
from the criteria service; this service decides who may write, when, and whether
an entry or an assessment is complete.

The entrypoints live by what they do, one mixin a module, and this class gathers
them: campaigns.py (campaigns, windows, the lock's announcement), entries.py (a
unit's writes), lifecycle.py (send, take back, return), views.py (what an assessment
shows), rounds.py (round 2). Beneath them: domain.py (the rules), persistence.py (reads and
row locks), models.py (tables).
"""

from __future__ import annotations

from nameko.rpc import RpcProxy

from services.common.base import ServiceBase
from services.common.contracts import (
    CRITERIA,
    EVIDENCE,
    IDENTITY,
    SUBMISSION,
)
from services.common.db import Database
from services.submission import (
    campaigns,
    entries,
    gauges,
    lifecycle,
    persistence,
    rounds,
    views,
)


class Service(campaigns.Campaigns, entries.Entries, lifecycle.Lifecycle, views.Views,
              rounds.RoundTwo, ServiceBase):
    name = SUBMISSION

    # A save's two statements, prepared once per connection on PostgreSQL.
    db = Database(prepared=persistence.PREPARED)
    criteria = RpcProxy(CRITERIA)
    identity = RpcProxy(IDENTITY)
    evidence = RpcProxy(EVIDENCE)

    def measure_state(self) -> None:
        gauges.measure_campaigns(self.db)
