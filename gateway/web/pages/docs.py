"""/docs: Swagger UI from the project's own copy, so it opens on a closed network."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from gateway.policy import public
from gateway.web.render import templates

router = APIRouter(include_in_schema=False)

@router.get("/docs", dependencies=[Depends(public)])
async def docs(request: Request) -> Response:
    # Its Content-Security-Policy is gateway.headers.DOCS_CSP.
    return templates.TemplateResponse(request, "docs.html", {})
