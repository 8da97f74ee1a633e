"""Kết quả: results and ranking per unit type, per-field charts across units, a unit's
trend; for Sở Nội vụ also the survey points, finalize and publish."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from gateway.policy import Principal, page_authenticated
from gateway.web.api import Api, ApiError
from gateway.web.render import page

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[Principal, Depends(page_authenticated)]
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
REPORT_ROLES = {"admin", "appraiser", "viewer"}


def field_bars(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each field's mean across units as a share of its maximum, for an inline SVG."""
    bars = []
    for row in report.get("rows") or []:
        if row.get("kind") != "field" or not row.get("max"):
            continue
        mean = Decimal(row["mean"] or 0)
        share = mean / Decimal(row["max"]) if Decimal(row["max"]) else Decimal(0)
        bars.append({**row, "percent": int((share * 100).to_integral_value())})
    return bars


def by_type(results: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    ordered = sorted(results, key=lambda r: (r["unit_type"] or "", r["rank"] or 10**9,
                                             r["unit_code"]))
    return [(kind, list(rows)) for kind, rows in groupby(ordered, key=lambda r: r["unit_type"])]


async def results_page(request: Request, campaign_id: int, me: Principal, *,
                       error: ApiError | None = None, status_code: int = 200) -> Response:
    api = Api(request)
    campaign, results = await asyncio.gather(api.get(f"/campaigns/{campaign_id}"),
                                             api.get(f"/campaigns/{campaign_id}/results"))
    report = None
    if me.roles & REPORT_ROLES:
        report = await api.get(f"/campaigns/{campaign_id}/reports/criteria")
    survey: list[dict[str, Any]] = []
    if "admin" in me.roles:
        catalog = await api.get(f"/catalogs/{campaign['catalog_id']}")
        survey = list(_survey_leaves(catalog.get("nodes") or []))
    return page(request, "results.html", me, status_code=status_code, error=error,
                campaign=campaign, groups=by_type(results), report=report,
                bars=field_bars(report or {}), survey=survey)


def _survey_leaves(nodes: list[dict[str, Any]]) -> Any:
    for node in nodes:
        if node.get("children"):
            yield from _survey_leaves(node["children"])
        elif (node.get("rule") or {}).get("kind") == "survey":
            yield node


@router.get("/campaigns/{campaign_id}/results")
async def results(request: Request, campaign_id: Id, me: SignedIn) -> Response:
    return await results_page(request, campaign_id, me)


def trend_points(years: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The index year by year as points of a polyline in a 0–100 box."""
    shown = [y for y in years if y.get("index") is not None]
    step = 100 / max(len(shown) - 1, 1)
    return [{**y, "x": round(i * step, 2), "y": round(100 - float(Decimal(y["index"])), 2)}
            for i, y in enumerate(shown)]


@router.get("/units/{unit_code}/trend")
async def trend(request: Request, unit_code: Annotated[str, Path(max_length=50)],
                me: SignedIn) -> Response:
    data = await Api(request).get(f"/units/{unit_code}/trend")
    points = trend_points(data.get("years") or [])
    return page(request, "trend.html", me, unit_code=unit_code, years=data.get("years") or [],
                points=points, polyline=" ".join(f"{p['x']},{p['y']}" for p in points))
