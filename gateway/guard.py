"""The door before any route: who is calling, and how much they may send.

FastAPI reads and parses a request's body (a multipart form spooled to ``/tmp``
included) before it resolves a route's dependencies, so a check of the token inside
the route comes too late: an anonymous client could fill the disk. This ASGI
middleware runs first, for every route at once:

- a request that carries a body to a route that needs a signed-in caller must bring a
  valid bearer token, verified before one byte of the body is read (401 otherwise);
- a body larger than its limit is refused with 413: at once when ``Content-Length``
  says so, else as soon as the bytes received pass the limit (chunked uploads);
- the number and size of a form's fields are bounded by the app's ``form_limits``
  (see ``FORM_LIMITS``), which FastAPI applies to every form it parses.

Which routes need a caller is read from the same declarations as the access policy
(``gateway.policy.route_access``), so a route added later is covered without a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute, iter_route_contexts
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.config import get_settings
from gateway.errors import problem_response
from gateway.identity.oidc import InvalidToken, ProviderUnavailable
from gateway.policy import route_access
from gateway.web.session import ACCESS_COOKIE, REFRESH_COOKIE

# Text fields of any form FastAPI parses: few and small (files are counted apart).
FORM_LIMITS: dict[str, int] = {"max_fields": 32, "max_files": 4, "max_part_size": 64 * 1024}
# Multipart bodies carry one file of at most the evidence limit, plus a little framing.
MULTIPART_OVERHEAD = 1024 * 1024
# A page form sent while its session is being renewed (see _check_caller): below
# Starlette's 1 MB in-memory spool, so nothing of it reaches the disk.
RENEWAL_BODY_LIMIT = 64 * 1024


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when the bytes pass the limit; FastAPI lets it through."""

    def __init__(self, limit: int, multipart: bool) -> None:
        super().__init__(413)
        self.limit, self.multipart = limit, multipart


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    methods: frozenset[str]
    needs_caller: bool


def _rules(app: Any) -> list[_Rule]:
    rules = []
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        kind = route_access(route.dependant)["kind"]
        rules.append(_Rule(compile_path(route.path_format)[0], frozenset(route.methods or ()),
                           kind in ("signed_in", "roles")))
    return rules


def token_of(headers: Headers) -> str | None:
    """The bearer token a request brings (scripts and the API's clients)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _problem(status: int, code: str, detail: str, **extra: Any) -> Any:
    response = problem_response(status, code, detail, **extra)
    # The body was not read: the connection must not be reused for a next request.
    response.headers["Connection"] = "close"
    return response


def too_large(limit: int, multipart: bool = False) -> Any:
    # An upload keeps the code the evidence and summary routes give past their limit.
    return _problem(413, "file_too_large" if multipart else "body_too_large",
                    f"Dữ liệu gửi lên quá lớn (tối đa {limit} byte) / the request body is "
                    f"larger than {limit} bytes", limit=limit)


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._rules: list[_Rule] | None = None

    def _needs_caller(self, scope: Scope) -> bool:
        if self._rules is None:
            self._rules = _rules(scope["app"])
        path, method = scope["path"], scope["method"]
        for rule in self._rules:
            if method in rule.methods and rule.pattern.match(path):
                return rule.needs_caller
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # NUL reaches PostgreSQL as an error (500) from any text column: refused here,
        # for every route, in the query and in JSON bodies (files may hold NUL bytes).
        if b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]:
            await invalid_text()(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length_header = headers.get("content-length")
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if not chunked and length_header in (None, "0"):
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        multipart = headers.get("content-type", "").lower().startswith("multipart/")
        limit = (settings.evidence_max_bytes + MULTIPART_OVERHEAD if multipart
                 else settings.max_body_bytes)
        if length_header is not None:
            if not length_header.isdigit():
                await _problem(400, "bad_content_length",
                               "Content-Length không hợp lệ / invalid Content-Length"
                               )(scope, receive, send)
                return
            if int(length_header) > limit:
                await too_large(limit, multipart)(scope, receive, send)
                return
        if self._needs_caller(scope):
            refusal, limit = await self._check_caller(scope, headers, limit)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
            if length_header is not None and int(length_header) > limit:
                await too_large(limit, multipart)(scope, receive, send)
                return
        json_body = headers.get("content-type", "").lower().startswith("application/json")
        await self._bounded(scope, receive, send, limit, json_body, multipart)

    async def _check_caller(self, scope: Scope, headers: Headers,
                            limit: int) -> tuple[Any, int]:
        """(refusal or None, the body limit that applies to this caller)."""
        bearer = token_of(headers)
        cookies = cookie_parser(headers.get("cookie", ""))
        # The web client's pages carry the same access token in their session cookie.
        token = bearer or cookies.get(ACCESS_COOKIE)
        if token:
            try:
                await scope["app"].state.openid.verify(token)
                return None, limit
            except InvalidToken:
                pass
            except ProviderUnavailable:
                return _problem(503, "identity_provider_unavailable",
                                "Máy chủ đăng nhập không trả lời / the sign-in server is "
                                "unavailable"), limit
        if bearer is None and cookies.get(REFRESH_COOKIE):
            # A page whose access token expired: the page renews it from the refresh
            # cookie, which only the provider can check. Until then a small form only,
            # never an upload that would spool to disk.
            return None, min(limit, RENEWAL_BODY_LIMIT)
        detail = "invalid or expired token" if token else "missing bearer token"
        return _problem(401, "unauthenticated",
                        f"Chưa đăng nhập hoặc phiên không hợp lệ / {detail}"), limit

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int,
                       json_body: bool = False, multipart: bool = False) -> None:
        received = 0
        started = False
        tail = b""  # the end of the previous chunk: an escape may straddle two

        async def counting_receive() -> Message:
            nonlocal received, tail
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > limit:
                    raise BodyTooLarge(limit, multipart)
                if json_body:
                    window = tail + chunk
                    if b"\\u0000" in window or b"\x00" in window:
                        raise NulInText
                    tail = window[-5:]
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Reached only when a route swallowed nothing and the handler was bypassed.
            if started:
                raise
            await too_large(limit, multipart)(scope, receive, send)


class NulInText(HTTPException):
    """A NUL character in JSON text or a query: PostgreSQL cannot store it in text."""

    def __init__(self) -> None:
        super().__init__(422)


def invalid_text() -> Any:
    return problem_response(
        422, "invalid_text",
        "Văn bản chứa ký tự NUL không lưu được / text contains a NUL character")


def install(app: Any) -> None:
    """Problems for what the guard finds while a route reads the body."""

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, exc: BodyTooLarge) -> Any:
        return too_large(exc.limit, exc.multipart)

    @app.exception_handler(NulInText)
    async def _nul(_: Request, exc: NulInText) -> Any:
        return invalid_text()
