"""Security headers on every answer of the gateway, pages and API alike.

One ASGI middleware so that every page (the web client's included, whichever router
serves it) gets them without each route remembering:

- ``Content-Security-Policy`` with ``frame-ancestors 'none'`` and ``X-Frame-Options:
  DENY`` (no page can be framed by another site: clickjacking), scripts only from
  the gateway itself: the province's networks are closed, nothing comes from outside;
- ``Strict-Transport-Security`` when the request came over TLS, directly or through the
  ingress (``X-Forwarded-Proto: https``), or always with ``CCHC_HSTS=always``;
- ``Cache-Control: no-store`` on the sign-in answers (``/api/v1/auth/...``): tokens must
  not stay in a browser's or a proxy's cache.
"""

from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import get_settings

PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
            "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
            "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
# /docs is the project's own copy of Swagger UI (gateway/web): its scripts come from
# here too, but it sets style attributes as it draws.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; worker-src 'self' blob:; object-src 'none'; "
            "base-uri 'self'; frame-ancestors 'none'")
DOCS_PATHS = ("/docs",)
NO_STORE_PREFIX = "/api/v1/auth/"
HSTS = "max-age=31536000; includeSubDomains"


def _over_tls(scope: Scope) -> bool:
    if scope.get("scheme") == "https":
        return True
    forwarded = Headers(scope=scope).get("x-forwarded-proto", "")
    return forwarded.split(",")[0].strip().lower() == "https"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        mode = get_settings().hsts
        hsts = mode == "always" or (mode == "auto" and _over_tls(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("X-Frame-Options", "DENY")
                headers.setdefault("Referrer-Policy", "same-origin")
                csp = DOCS_CSP if path.startswith(DOCS_PATHS) else PAGE_CSP
                headers.setdefault("Content-Security-Policy", csp)
                if hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                if path.startswith(NO_STORE_PREFIX):
                    headers["Cache-Control"] = "no-store"
                    headers["Pragma"] = "no-cache"
            await send(message)

        await self.app(scope, receive, send_with_headers)
