"""Downloads for the browser: the same API answers, authorised by the session cookie."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from gateway.policy import Principal, page_authenticated
from gateway.web.api import Api
from gateway.web.render import secure

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[Principal, Depends(page_authenticated)]
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
KEPT_HEADERS = ("content-type", "content-disposition", "etag")


async def _relay(request: Request, path: str) -> Response:
    answer = await Api(request).send("GET", path)
    headers = {k: v for k, v in answer.headers.items() if k.lower() in KEPT_HEADERS}
    response = Response(answer.content, headers=headers)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return secure(response)


@router.get("/assessments/{assessment_id}/summary.{ext}")
async def summary(request: Request, assessment_id: Id, ext: Literal["pdf", "xlsx"],
                  me: SignedIn) -> Response:
    return await _relay(request, f"/assessments/{assessment_id}/summary.{ext}")


@router.get("/evidence/{evidence_id}")
async def evidence(request: Request, evidence_id: Id, me: SignedIn) -> Response:
    return await _relay(request, f"/evidence/{evidence_id}")


@router.get("/catalogs/{catalog_id}.xlsx")
async def catalog_export(request: Request, catalog_id: Id, me: SignedIn) -> Response:
    return await _relay(request, f"/catalogs/{catalog_id}.xlsx")
