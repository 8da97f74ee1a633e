"""Hộp thư thông báo and the channels a person wants (email, Zalo)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from gateway.policy import Principal, page_authenticated
from gateway.web.api import Api, ApiError
from gateway.web.render import page, redirect
from gateway.web.session import posted_form

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[Principal, Depends(page_authenticated)]
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]


async def _inbox(request: Request, me: Principal, *, error: ApiError | None = None,
                 status_code: int = 200) -> Response:
    api = Api(request)
    notes, preferences = await asyncio.gather(api.get("/notifications"),
                                              api.get("/me/preferences"))
    return page(request, "inbox.html", me, status_code=status_code, error=error,
                notifications=notes, preferences=preferences)


@router.get("/notifications")
async def inbox(request: Request, me: SignedIn) -> Response:
    return await _inbox(request, me)


@router.post("/notifications/{notification_id}/read")
async def mark_read(request: Request, notification_id: Id, me: SignedIn) -> Response:
    await posted_form(request)
    try:
        await Api(request).post(f"/notifications/{notification_id}/read")
    except ApiError as exc:
        return await _inbox(request, me, error=exc, status_code=exc.status)
    return redirect(request, "/notifications")


@router.post("/me/preferences")
async def preferences(request: Request, me: SignedIn) -> Response:
    form = await posted_form(request)
    try:
        await Api(request).put("/me/preferences", json={
            "email": form.get("email") == "on", "zalo": form.get("zalo") == "on"})
    except ApiError as exc:
        return await _inbox(request, me, error=exc, status_code=exc.status)
    return redirect(request, "/notifications?ok=preferences")
