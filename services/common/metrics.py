"""Prometheus metrics of a service process: every entrypoint counted and timed, and the
gauges of state the alert rules watch (deploy/prometheus/alerts.yml): the outbox backlog,
units sent and not before a lock. Notification deliveries are counted by notify itself
(services/notify/delivery.py).

Gauges of state are measured from the database by a timer (ServiceBase.measure), so
every replica exports the same values: rules aggregate them with ``max``, never ``sum``.
"""

from __future__ import annotations

import time
from typing import Any

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import Counter, Gauge, Histogram

from services.common.errors import DomainError

CALLS = Counter(
    "cchc_entrypoint_calls",
    "Entrypoint runs per service, method, kind and outcome: ok; rejected, a DomainError "
    "below 500 (bad input, a locked window: the caller's problem); error, anything else.",
    ["service", "method", "kind", "outcome"],
)
SECONDS = Histogram(
    "cchc_entrypoint_seconds",
    "Entrypoint duration in seconds.",
    ["service", "method", "kind"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

OUTBOX_PENDING = Gauge(
    "cchc_outbox_pending_events",
    "Events written to this service's outbox and not yet published.",
    ["service"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "cchc_outbox_oldest_pending_seconds",
    "Age of the oldest unpublished outbox event (0 when none wait).",
    ["service"],
)
# Per campaign with a units' window open now (self_assessment or supplement).
CAMPAIGN_UNITS = Gauge(
    "cchc_campaign_units",
    "Units of a campaign whose window is open, by state: sent (đã gửi) or unsent.",
    ["campaign_id", "window", "state"],
)
WINDOW_LOCKS_AT = Gauge(
    "cchc_window_locks_at_timestamp_seconds",
    "Instant (Unix seconds) an open window locks at.",
    ["campaign_id", "window"],
)
def outcome(exc_info: Any) -> str:
    if not exc_info:
        return "ok"
    exc = exc_info[1]
    if isinstance(exc, DomainError) and exc.status < 500:
        return "rejected"
    return "error"


_KINDS = ((Rpc, "rpc"), (EventHandler, "event"), (HttpRequestHandler, "http"), (Timer, "timer"))


def entrypoint_kind(entrypoint: Any) -> str:
    for cls, kind in _KINDS:
        if isinstance(entrypoint, cls):
            return kind
    return "other"


class EntrypointMetrics(DependencyProvider):
    """Counts and times every worker; a service declares it once, as a class attribute."""

    def setup(self) -> None:
        self.started: dict[Any, float] = {}

    def worker_setup(self, worker_ctx: Any) -> None:
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx: Any, result: Any = None, exc_info: Any = None) -> None:
        started = self.started.pop(worker_ctx, None)
        if started is None:
            return
        labels = (
            worker_ctx.service_name,
            worker_ctx.entrypoint.method_name,
            entrypoint_kind(worker_ctx.entrypoint),
        )
        SECONDS.labels(*labels).observe(time.perf_counter() - started)
        CALLS.labels(*labels, outcome(exc_info)).inc()
