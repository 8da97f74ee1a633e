"""Trang chính and a campaign's page: windows, the countdown to the next lock, units."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from gateway.policy import Principal, page_authenticated
from gateway.web.api import Api, ApiError
from gateway.web.render import page, parse_instant

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[Principal, Depends(page_authenticated)]
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
# The home page shows the newest campaigns; older ones stay reachable by address.
RECENT = 12
PAGE_FANOUT = 3
ACROSS_UNITS = {"admin", "appraiser", "viewer"}


def next_lock(campaigns: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The open window that locks first, across the campaigns shown."""
    open_windows = [(parse_instant(w["locks_at"]), c, kind, w)
                    for c in campaigns for kind, w in c["windows"].items() if w["is_open"]]
    if not open_windows:
        return None
    locks_at, campaign, kind, window = min(open_windows, key=lambda item: item[0])
    return {"campaign": campaign, "kind": kind, "locks_at": window["locks_at"]}


async def visible_campaigns(api: Api, me: Principal) -> list[dict[str, Any]]:
    """The newest campaigns, each with its windows; a unit's people see their unit's only."""
    listed = (await api.get("/campaigns"))[:RECENT]
    # A few at a time: one page must not take all of the gateway's calls in flight to
    # submission (CCHC_RPC_MAX_IN_FLIGHT) and be refused by its own fan-out.
    gate = asyncio.Semaphore(PAGE_FANOUT)

    async def one(campaign_id: int) -> dict[str, Any]:
        async with gate:
            return await api.get(f"/campaigns/{campaign_id}")

    campaigns = await asyncio.gather(*(one(c["id"]) for c in listed))
    if me.roles & ACROSS_UNITS:
        return list(campaigns)
    return [c for c in campaigns if any(u["unit_code"] == me.unit_code for u in c["units"])]


@router.get("/")
async def home(request: Request, me: SignedIn) -> Response:
    campaigns = await visible_campaigns(Api(request), me)
    return page(request, "home.html", me, campaigns=campaigns, next_lock=next_lock(campaigns))


@router.get("/campaigns/{campaign_id}")
async def campaign(request: Request, campaign_id: Id, me: SignedIn) -> Response:
    return await campaign_page(request, campaign_id, me)


async def campaign_page(request: Request, campaign_id: int, me: Principal,
                        error: ApiError | None = None, status_code: int = 200) -> Response:
    campaign = await Api(request).get(f"/campaigns/{campaign_id}")
    units = campaign["units"]
    if not me.roles & ACROSS_UNITS:
        units = [u for u in units if u["unit_code"] == me.unit_code]
    return page(request, "campaign.html", me, status_code=status_code, error=error,
                campaign=campaign, units=units,
                next_lock=next_lock([campaign]))
