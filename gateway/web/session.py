"""The browser's session: the API's token pair in HttpOnly cookies, and a CSRF token.

The cookies hold the same tokens a script gets from POST /api/v1/auth/login, so a
page is exactly as strong as the API: verified against the realm's keys on every
request, renewed once with the refresh token when the access token has expired.
SameSite=Lax keeps them off other sites' forms and scripts; Secure is set whenever
the page was reached over HTTPS (directly or through a TLS proxy that says so).
Forms carry a CSRF token equal to a cookie of its own (double submit), checked on
every POST before anything else.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from fastapi import Request
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError, KeycloakPostError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response
from starlette.types import Scope

from gateway.identity.oidc import InvalidToken, OpenIdClient, ProviderUnavailable
from gateway.web.problems import ApiError

ACCESS_COOKIE = "cchc_access"
REFRESH_COOKIE = "cchc_refresh"
CSRF_COOKIE = "cchc_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


async def _session_claims(cookies: Mapping[str, str], state: dict[str, Any],
                          client: OpenIdClient) -> dict[str, Any]:
    """Claims of the session's access token, renewing the pair once if it has expired.

    What it used and renewed goes into ``state`` (the request's), for the page's API
    calls and for finish() to write back.
    """
    token = state.get("access_token") or cookies.get(ACCESS_COOKIE)
    if token:
        try:
            claims = await client.verify(token)
            state["access_token"] = token
            return claims
        except InvalidToken:
            pass
    refresh = cookies.get(REFRESH_COOKIE)
    if not refresh:
        raise InvalidToken("no session")
    try:
        tokens = await client.refresh_grant(refresh)
    except (KeycloakAuthenticationError, KeycloakPostError):
        raise InvalidToken("session ended") from None
    except KeycloakError:
        raise ProviderUnavailable() from None
    claims = await client.verify(tokens["access_token"])
    state["access_token"] = tokens["access_token"]
    state["renewed_tokens"] = tokens
    return claims


async def current_claims(request: Request, client: OpenIdClient) -> dict[str, Any]:
    """The page's person: from the session cookies (or what the guard already checked)."""
    return await _session_claims(request.cookies, request.scope.setdefault("state", {}),
                                 client)


async def page_session(scope: Scope, client: OpenIdClient) -> Response | None:
    """For the guard, before a page's form body is read: None when the session is good,
    else where the browser goes (sign in again; the form is lost, never half-read)."""
    request = Request(scope)
    try:
        await _session_claims(request.cookies, scope.setdefault("state", {}), client)
    except InvalidToken:
        response = RedirectResponse(f"/login?next={quote(scope['path'])}", status_code=303)
        response.headers["Connection"] = "close"
        return response
    except ProviderUnavailable:
        return None  # the page's own dependency answers 503 the same way the API does
    return None


def access_token(request: Request) -> str | None:
    return request.scope.get("state", {}).get("access_token")


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def write_tokens(response: Response, request: Request, tokens: dict[str, Any]) -> None:
    """Stores a token pair (from sign-in, password change or renewal) in the cookies."""
    secure = _secure(request)
    refresh_age = int(tokens.get("refresh_expires_in") or 1800)
    response.set_cookie(ACCESS_COOKIE, tokens["access_token"], max_age=refresh_age,
                        httponly=True, samesite="lax", secure=secure, path="/")
    response.set_cookie(REFRESH_COOKIE, tokens["refresh_token"], max_age=refresh_age,
                        httponly=True, samesite="lax", secure=secure, path="/")


def clear_tokens(response: Response) -> None:
    response.delete_cookie(ACCESS_COOKIE, path="/")
    response.delete_cookie(REFRESH_COOKIE, path="/")


def csrf_token(request: Request) -> str:
    """The token forms carry; a new one is made (and set by finish()) on the first page."""
    token = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf", None)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return token


def check_csrf(request: Request, form: FormData | None = None) -> None:
    """403 ``csrf_failed`` unless the form (or the htmx header) carries the cookie's token."""
    expected = request.cookies.get(CSRF_COOKIE) or ""
    sent = request.headers.get(CSRF_HEADER) or (str(form.get(CSRF_FIELD) or "") if form else "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise ApiError(403, {
            "code": "csrf_failed",
            "detail": "Phiên làm việc của biểu mẫu đã hết hạn, vui lòng tải lại trang và thử lại / "
                      "the form's security token is missing or stale: reload the page"})


# Page forms: the text fields are few and small, but an assignment or a campaign's unit
# list has one field per criterion or unit (a province set has ~150, a province ~200
# units); files are single. The guard bounds the whole body before this is read.
PAGE_FORM_FIELDS = 600
PAGE_FORM_FILES = 1
PAGE_FORM_PART = 64 * 1024


async def posted_form(request: Request) -> FormData:
    """The form of a page's POST, after its CSRF token was checked."""
    form = await request.form(max_fields=PAGE_FORM_FIELDS, max_files=PAGE_FORM_FILES,
                              max_part_size=PAGE_FORM_PART)
    check_csrf(request, form)
    return form


def finish(response: Response, request: Request) -> Response:
    """Writes what this request changed in the session: a renewed pair, a new CSRF token."""
    renewed = request.scope.get("state", {}).get("renewed_tokens")
    if renewed:
        write_tokens(response, request, renewed)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:
        response.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="strict",
                            secure=_secure(request), path="/")
    return response
