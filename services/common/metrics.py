"""Prometheus metrics of a service process: every entrypoint counted and timed."""

from __future__ import annotations

import time
from typing import Any

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer
from nameko.web.handlers import HttpRequestHandler
from prometheus_client import Counter, Histogram

CALLS = Counter(
    "cchc_entrypoint_calls",
    "Entrypoint runs per service, method, kind and outcome.",
    ["service", "method", "kind", "outcome"],
)
SECONDS = Histogram(
    "cchc_entrypoint_seconds",
    "Entrypoint duration in seconds.",
    ["service", "method", "kind"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

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
        CALLS.labels(*labels, "error" if exc_info else "ok").inc()
