"""/docs: Swagger UI from the project's own copy, so it opens on a closed network."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gateway.policy import public
from gateway.web.render import templates

router = APIRouter(include_in_schema=False)

# Swagger UI sets style attributes as it draws; its scripts still come from here only.
DOCS_CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; "
            "object-src 'none'")


@router.get("/docs", dependencies=[Depends(public)])
async def docs(request: Request) -> Response:
    response = templates.TemplateResponse(request, "docs.html", {})
    response.headers["Content-Security-Policy"] = DOCS_CSP
    response.headers["X-Frame-Options"] = "DENY"
    return response
