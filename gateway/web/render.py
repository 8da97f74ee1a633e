"""Templates, the Vietnamese formats they use, and the headers every page carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import RedirectResponse, Response

from gateway.policy import Principal
from gateway.web import labels
from gateway.web.problems import vietnamese
from gateway.web.session import csrf_token, finish
from services.common import scoring, times

VIETNAM = times.VN
HERE = Path(__file__).parent

# Pages hold people's work and issued passwords: never kept by a browser or a proxy.
# (CSP, frame-ancestors and the other security headers: gateway.headers, for all.)
PAGE_HEADERS = {"Cache-Control": "no-store"}


parse_instant = times.parse_instant


def vn_time(value: str | datetime | None) -> str:
    """``dd/MM/yyyy HH:mm`` in Asia/Ho_Chi_Minh, whatever offset the instant came with."""
    return times.vn_time(value, empty="—")


def vn_number(value: Any) -> str:
    """A decimal the Vietnamese way: ``0,25``, ``1.234,5``; exact, never through float."""
    return scoring.vn_text(value, empty="—")


def iso_utc(value: str | datetime | None) -> str:
    moment = parse_instant(value)
    return moment.astimezone(UTC).isoformat() if moment else ""


templates = Jinja2Templates(directory=str(HERE / "templates"))
templates.env.filters.update(vn_time=vn_time, vn_number=vn_number, iso_utc=iso_utc,
                             vi=vietnamese)
templates.env.globals.update(labels=labels)


def page(
    request: Request, template: str, principal: Principal | None = None, *,
    status_code: int = 200, **context: Any,
) -> Response:
    """A whole page (or, for htmx, the fragment it asked for) with the session written."""
    response = templates.TemplateResponse(
        request, template,
        {"me": principal, "csrf_token": csrf_token(request),
         "done": labels.DONE.get(request.query_params.get("ok", "")),
         "server_now": datetime.now(UTC).isoformat(), **context},
        status_code=status_code,
    )
    return secure(finish(response, request))


def retry_later(request: Request, principal: Principal | None, form: Any,
                error: Any) -> Response | None:
    """At capacity (503 ``overloaded``), a page that posts the same fields again by
    itself after Retry-After, without asking the API for anything meanwhile; None for
    any other refusal. Only text fields: a file must be chosen again."""
    if error.status != 503 or error.code != "overloaded":
        return None
    wait = int(error.body.get("retry_after") or 1)
    fields = [(name, value) for name, value in form.multi_items()
              if isinstance(value, str) and name != "csrf_token"]
    response = page(request, "retry.html", principal, status_code=503, retry_after=wait,
                    action=request.url.path, fields=fields)
    response.headers["Retry-After"] = str(wait)
    return response


def secure(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def redirect(request: Request, url: str) -> Response:
    """POST-redirect-GET: 303, so a reload never sends the form again."""
    return secure(finish(RedirectResponse(url, status_code=303), request))
