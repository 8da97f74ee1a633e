"""Hội đồng thẩm định: the queue of their department, appraising a criterion, comments;
and Sở Nội vụ's return, survey points, adjustments, finalize and publish."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from gateway.policy import Principal, page_authenticated, page_roles
from gateway.web.api import Api, ApiError
from gateway.web.pages.assessment import entry_view
from gateway.web.pages.results import results_page
from gateway.web.render import page, redirect
from gateway.web.session import posted_form

router = APIRouter(include_in_schema=False)

Appraiser = Annotated[Principal, Depends(page_roles("appraiser"))]
Council = Annotated[Principal, Depends(page_roles("admin", "appraiser"))]
Admin = Annotated[Principal, Depends(page_roles("admin"))]
SignedIn = Annotated[Principal, Depends(page_authenticated)]
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
Code = Annotated[str, Path(min_length=1, max_length=30)]
QUEUE_STATES = {"pending": "Chờ thẩm định", "appraised": "Đã thẩm định",
                "needs_supplement": "Cần bổ sung", "returned": "Đã trả lại"}


@router.get("/campaigns/{campaign_id}/queue")
async def queue(
    request: Request, campaign_id: Id, me: Appraiser,
    unit: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    api = Api(request)
    params = {"campaign": campaign_id, **({"unit": unit} if unit else {}),
              **({"status": status} if status else {})}
    campaign, items = await asyncio.gather(api.get(f"/campaigns/{campaign_id}"),
                                           api.get("/appraisal/queue", params=params))
    return page(request, "queue.html", me, campaign=campaign, items=items, unit=unit or "",
                status=status or "", states=QUEUE_STATES)


async def _appraise_page(request: Request, me: Principal, assessment_id: int, code: str, *,
                         error: ApiError | None = None, status_code: int = 200,
                         typed: dict[str, Any] | None = None) -> Response:
    api = Api(request)
    view, thread = await asyncio.gather(
        api.get(f"/assessments/{assessment_id}/appraisal"),
        api.get(f"/assessments/{assessment_id}/entries/{code}/comments"))
    entry = next((e for e in view["entries"] if e["code"] == code), None)
    if entry is None:
        raise ApiError(404, {"code": "not_found",
                             "detail": f"Không tìm thấy tiêu chí {code} / criterion not found"})
    current = entry["round2"] if view.get("round", 1) > 1 else entry["round1"]
    values = {"score": current.get("score") or "", "reason": current.get("reason") or "",
              "needs_supplement": entry["round1"].get("needs_supplement"), **(typed or {})}
    return page(request, "appraise.html", me, status_code=status_code, error=error,
                view=view, entry=entry, comments=thread, values=values,
                round=view.get("round", 1), states=QUEUE_STATES)


@router.get("/assessments/{assessment_id}/appraise/{code}")
async def appraise_form(request: Request, assessment_id: Id, code: Code,
                        me: Council) -> Response:
    return await _appraise_page(request, me, assessment_id, code)


@router.post("/assessments/{assessment_id}/appraise/{code}")
async def appraise(request: Request, assessment_id: Id, code: Code, me: Appraiser) -> Response:
    form = await posted_form(request)
    body = {"round": int(str(form.get("round") or "1")),
            "score": str(form.get("score") or "").strip().replace(",", "."),
            "reason": str(form.get("reason") or ""),
            "needs_supplement": form.get("needs_supplement") == "on"}
    try:
        await Api(request).put(f"/assessments/{assessment_id}/appraisal/{code}", json=body)
    except ApiError as exc:
        return await _appraise_page(request, me, assessment_id, code, error=exc,
                                    status_code=exc.status, typed=body)
    return redirect(request, f"/assessments/{assessment_id}/appraise/{code}?ok=appraised")


@router.post("/assessments/{assessment_id}/comments/{code}")
async def comment(request: Request, assessment_id: Id, code: Code, me: SignedIn) -> Response:
    form = await posted_form(request)
    back = str(form.get("back") or "")
    try:
        await Api(request).post(f"/assessments/{assessment_id}/entries/{code}/comments",
                                json={"text": str(form.get("text") or "")})
    except ApiError as exc:
        if back == "entry":
            return await entry_view(request, me, assessment_id, code, error=exc,
                                    status_code=exc.status)
        return await _appraise_page(request, me, assessment_id, code, error=exc,
                                    status_code=exc.status)
    target = (f"/assessments/{assessment_id}/entries/{code}" if back == "entry"
              else f"/assessments/{assessment_id}/appraise/{code}")
    return redirect(request, f"{target}?ok=commented#comments")


# --- Sở Nội vụ: return, survey, adjustments, finalize, publish ---------------------------

async def _council_view(request: Request, me: Principal, assessment_id: int, *,
                        error: ApiError | None = None, status_code: int = 200) -> Response:
    api = Api(request)
    view = await api.get(f"/assessments/{assessment_id}/appraisal")
    assessment = await api.get(f"/assessments/{assessment_id}")
    return page(request, "council_view.html", me, status_code=status_code, error=error,
                view=view, assessment=assessment, states=QUEUE_STATES)


@router.get("/assessments/{assessment_id}/council")
async def council_view(request: Request, assessment_id: Id, me: Council) -> Response:
    return await _council_view(request, me, assessment_id)


@router.post("/assessments/{assessment_id}/council/{action}")
async def council_action(request: Request, assessment_id: Id, action: str,
                         me: Admin) -> Response:
    form = await posted_form(request)
    api = Api(request)
    try:
        if action == "return":
            await api.post(f"/assessments/{assessment_id}/return")
        elif action == "finalize":
            await api.post(f"/assessments/{assessment_id}/finalize")
        elif action == "adjustments":
            items = []
            for kind in ("bonus", "penalty"):
                points = str(form.get(f"{kind}_points") or "").strip().replace(",", ".")
                if points:
                    items.append({"kind": kind, "points": points,
                                  "reason": str(form.get(f"{kind}_reason") or "")})
            await api.put(f"/assessments/{assessment_id}/adjustments", json=items)
        else:
            raise ApiError(404, {"code": "not_found", "detail": "Không có thao tác này"})
    except ApiError as exc:
        return await _council_view(request, me, assessment_id, error=exc,
                                   status_code=exc.status)
    return redirect(request, f"/assessments/{assessment_id}/council?ok={action}")


@router.post("/campaigns/{campaign_id}/survey")
async def survey(request: Request, campaign_id: Id, me: Admin) -> Response:
    form = await posted_form(request)
    scores: dict[str, dict[str, str]] = {}
    for key, value in form.multi_items():
        # Fields named survey:<unit_code>:<criterion code>.
        if key.startswith("survey:") and isinstance(value, str) and value.strip():
            _, unit_code, code = key.split(":", 2)
            scores.setdefault(unit_code, {})[code] = value.strip().replace(",", ".")
    try:
        await Api(request).put(f"/campaigns/{campaign_id}/survey", json=scores)
    except ApiError as exc:
        return await results_page(request, campaign_id, me, error=exc, status_code=exc.status)
    return redirect(request, f"/campaigns/{campaign_id}/results?ok=survey")


@router.post("/campaigns/{campaign_id}/{action}")
async def campaign_action(request: Request, campaign_id: Id, action: str,
                          me: Admin) -> Response:
    await posted_form(request)
    if action not in ("finalize", "publish"):
        raise ApiError(404, {"code": "not_found", "detail": "Không có thao tác này"})
    try:
        await Api(request).post(f"/campaigns/{campaign_id}/{action}")
    except ApiError as exc:
        return await results_page(request, campaign_id, me, error=exc, status_code=exc.status)
    return redirect(request, f"/campaigns/{campaign_id}/results?ok={action}")
