"""HTTP metrics of the gateway, per route template so labels stay few.

A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` wraps every request and
response in extra tasks and streams, a cost paid on each save in the deadline rush.
"""

from __future__ import annotations

import time

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUESTS = Counter("cchc_http_requests", "HTTP requests.", ["method", "route", "status"])
SECONDS = Histogram("cchc_http_seconds", "HTTP request duration.", ["method", "route"])


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # The router writes the matched route into the scope it was handed.
            template = getattr(scope.get("route"), "path", "unmatched")
            SECONDS.labels(scope["method"], template).observe(time.perf_counter() - started)
            REQUESTS.labels(scope["method"], template, str(status)).inc()
