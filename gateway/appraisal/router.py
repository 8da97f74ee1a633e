"""Appraisal, results and reports: the routes of API.md over the appraisal service.

Roles are checked here (gateway.policy); which department, which unit, which window
and whether results are published yet are decided by the appraisal service from the
actor passed along. A unit's round-2 supplement goes to submission, which owns the
unit's entries and the supplement window.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from gateway.appraisal import documents
from gateway.policy import Principal, require_roles
from gateway.submission.router import Admin, Code, Id, Rpc, SignedIn, UnitMember
from services.common.contracts import APPRAISAL, SUBMISSION

router = APIRouter(prefix="/api/v1", tags=["appraisal and results"])

Appraiser = Annotated[Principal, Depends(require_roles("appraiser"))]
Council = Annotated[Principal, Depends(require_roles("admin", "appraiser"))]
Readers = Annotated[Principal, Depends(require_roles("admin", "appraiser", "viewer"))]


def _file(content: bytes, media_type: str, name: str, pretty: str) -> Response:
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(pretty)}"
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": disposition})


# --- Council ---------------------------------------------------------------------------

@router.get("/appraisal/queue")
async def queue(
    principal: Appraiser, client: Rpc,
    campaign: Annotated[int, Query(ge=1, le=2_147_483_647)],
    unit: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[str | None, Query(
        description="pending | appraised | needs_supplement | returned")] = None,
) -> list[dict[str, Any]]:
    """The sent criteria the appraiser's department appraises, across units."""
    return await client.call(APPRAISAL, "queue", campaign, principal.signed_actor(), unit=unit,
                             status=status)


@router.put("/assessments/{assessment_id}/appraisal/{code}")
async def appraise(
    assessment_id: Id, code: Code, principal: Appraiser, client: Rpc,
    body: Annotated[dict[str, Any], Body(examples=[{
        "round": 1, "score": "0.5", "reason": "Văn bản số 30a/KH-UBND có chữ cái sau số",
        "needs_supplement": True}])],
) -> dict[str, Any]:
    """``{round, score, reason, needs_supplement}``: 403 another department's criterion,
    422 a score the rule refuses or no reason below the self-score, 423 outside the window."""
    return await client.call(APPRAISAL, "appraise", assessment_id, code, body,
                             principal.signed_actor())


@router.get("/assessments/{assessment_id}/appraisal")
async def appraisal_of(assessment_id: Id, principal: SignedIn, client: Rpc) -> dict[str, Any]:
    """The council's work on a unit: all of it for council and admin; for the unit, the
    returned criteria (red) with the council's reasons, and everything once published."""
    return await client.call(APPRAISAL, "assessment_view", assessment_id, principal.signed_actor())


@router.get("/assessments/{assessment_id}/appraisal-history")
async def appraisal_history(assessment_id: Id, principal: Council,
                            client: Rpc) -> list[dict[str, Any]]:
    """Every council and admin change: who, when, before and after."""
    return await client.call(APPRAISAL, "history", assessment_id, principal.signed_actor())


@router.post("/assessments/{assessment_id}/return")
async def return_criteria(assessment_id: Id, principal: Admin, client: Rpc) -> dict[str, Any]:
    """Trả lại: the flagged criteria go back to the unit (red); its leader is notified."""
    return await client.call(APPRAISAL, "return_criteria", assessment_id, principal.signed_actor())


@router.put("/assessments/{assessment_id}/entries/{code}/supplement")
async def supplement(
    assessment_id: Id, code: Code, principal: UnitMember, client: Rpc,
    body: Annotated[dict[str, Any], Body(examples=[{
        "explanation": "Bổ sung Kế hoạch số 25/KH-UBND, mục II", "proposed_score": "2"}])],
) -> dict[str, Any]:
    """Round 2: returned criteria only, in the supplement window (423 after its lock)."""
    return await client.call(SUBMISSION, "supplement_entry", assessment_id, code, body,
                             principal.signed_actor())


@router.get("/assessments/{assessment_id}/supplements")
async def supplements(assessment_id: Id, principal: SignedIn, client: Rpc) -> dict[str, Any]:
    """Round 2 as the unit saved it: ``{code: {explanation, proposed_score, updated_at,
    updated_by}}`` (the unit, appraisers, admin), before and after it is sent."""
    return await client.call(SUBMISSION, "round_two", assessment_id, principal.signed_actor())


@router.get("/assessments/{assessment_id}/entries/{code}/comments")
async def comments(assessment_id: Id, code: Code, principal: SignedIn,
                   client: Rpc) -> list[dict[str, Any]]:
    """The thread between council and unit on one criterion."""
    return await client.call(APPRAISAL, "comments", assessment_id, code, principal.signed_actor())


@router.post("/assessments/{assessment_id}/entries/{code}/comments", status_code=201)
async def add_comment(
    assessment_id: Id, code: Code, principal: SignedIn, client: Rpc,
    body: Annotated[dict[str, Any], Body(examples=[{"text": "Đề nghị bổ sung văn bản"}])],
) -> dict[str, Any]:
    return await client.call(APPRAISAL, "add_comment", assessment_id, code, body,
                             principal.signed_actor())


# --- Results -----------------------------------------------------------------------------

@router.put("/campaigns/{campaign_id}/survey")
async def survey(
    campaign_id: Id, principal: Admin, client: Rpc,
    body: Annotated[dict[str, dict[str, Any]], Body(examples=[{"X1": {"8.1": "4.5"}}])],
) -> dict[str, Any]:
    """Điểm điều tra xã hội học per unit and survey criterion, from the survey's results."""
    return await client.call(APPRAISAL, "set_survey", campaign_id, body, principal.signed_actor())


@router.put("/assessments/{assessment_id}/adjustments")
async def adjustments(
    assessment_id: Id, principal: Admin, client: Rpc,
    body: Annotated[list[dict[str, Any]], Body(examples=[[
        {"kind": "bonus", "points": "1", "reason": "Sáng kiến CCHC được công nhận"}]])],
) -> dict[str, Any]:
    """Bonus and penalty points with reasons, capped by the set's bonus_max / penalty_max."""
    return await client.call(APPRAISAL, "set_adjustments", assessment_id, body,
                             principal.signed_actor())


@router.post("/assessments/{assessment_id}/finalize")
async def finalize(assessment_id: Id, principal: Admin, client: Rpc) -> dict[str, Any]:
    """Final scores, total, index and band of one unit."""
    return await client.call(APPRAISAL, "finalize", assessment_id, principal.signed_actor())


@router.post("/campaigns/{campaign_id}/finalize")
async def finalize_campaign(campaign_id: Id, principal: Admin, client: Rpc) -> dict[str, Any]:
    """Every sent unit of the campaign at once (all or nothing)."""
    return await client.call(APPRAISAL, "finalize_campaign", campaign_id, principal.signed_actor())


@router.post("/campaigns/{campaign_id}/publish")
async def publish(campaign_id: Id, principal: Admin, client: Rpc) -> dict[str, Any]:
    """Results become visible to all, ranked within each unit type."""
    return await client.call(APPRAISAL, "publish", campaign_id, principal.signed_actor())


@router.get("/campaigns/{campaign_id}/results")
async def results(campaign_id: Id, principal: SignedIn, client: Rpc) -> list[dict[str, Any]]:
    """``[{unit_code, unit_name, unit_type, total, max, index, classification, rank}]``;
    admin and council before publication (403 ``results_not_published`` for others)."""
    data = await client.call(APPRAISAL, "results", campaign_id, principal.signed_actor())
    return data["results"]


def _results_title(data: dict[str, Any]) -> tuple[str, list[str]]:
    campaign = data["campaign"]
    state = (f"Công bố lúc {documents.shown_time(campaign['published_at'])}"
             if campaign["published"] else "Chưa công bố (chỉ Hội đồng và quản trị xem)")
    return f"Kết quả Chỉ số CCHC năm {campaign['year']}", [campaign["name"], state]


@router.get("/campaigns/{campaign_id}/results.xlsx", response_class=Response)
async def results_xlsx(campaign_id: Id, principal: SignedIn, client: Rpc) -> Response:
    data = await client.call(APPRAISAL, "results", campaign_id, principal.signed_actor())
    title, _ = _results_title(data)
    content = await run_in_threadpool(documents.render_xlsx, "Kết quả", title,
                                      documents.RESULT_HEADERS, documents.result_rows(data))
    return _file(content, documents.XLSX, f"ket-qua-{campaign_id}.xlsx", f"{title}.xlsx")


@router.get("/campaigns/{campaign_id}/results.pdf", response_class=Response)
async def results_pdf(campaign_id: Id, principal: SignedIn, client: Rpc) -> Response:
    data = await client.call(APPRAISAL, "results", campaign_id, principal.signed_actor())
    title, lines = _results_title(data)
    content = await run_in_threadpool(documents.render_pdf, title, lines,
                                      documents.RESULT_HEADERS, documents.result_rows(data),
                                      (6, 8, 24, 9, 7, 7, 8, 9))
    return _file(content, "application/pdf", f"ket-qua-{campaign_id}.pdf", f"{title}.pdf")


@router.get("/campaigns/{campaign_id}/reports/criteria")
async def criteria_report(campaign_id: Id, principal: Readers, client: Rpc) -> dict[str, Any]:
    """Per field and criterion across units: mean, min, max, at full score, returned."""
    return await client.call(APPRAISAL, "criteria_report", campaign_id, principal.signed_actor())


@router.get("/campaigns/{campaign_id}/reports/criteria.xlsx", response_class=Response)
async def criteria_report_xlsx(campaign_id: Id, principal: Readers, client: Rpc) -> Response:
    data = await client.call(APPRAISAL, "criteria_report", campaign_id, principal.signed_actor())
    title = f"Báo cáo theo tiêu chí - {data['name']}"
    content = await run_in_threadpool(documents.render_xlsx, "Theo tiêu chí", title,
                                      documents.REPORT_HEADERS, documents.report_rows(data))
    return _file(content, documents.XLSX, f"bao-cao-tieu-chi-{campaign_id}.xlsx",
                 f"{title}.xlsx")


@router.get("/units/{unit_code}/trend")
async def trend(unit_code: Annotated[str, Path(max_length=50)], principal: SignedIn,
                client: Rpc) -> dict[str, Any]:
    """The unit's index and each field's score, year by year (the unit, admin, viewer)."""
    return await client.call(APPRAISAL, "trend", unit_code, principal.signed_actor())


@router.get("/assessments/{assessment_id}/deductions")
async def deductions(assessment_id: Id, principal: SignedIn, client: Rpc) -> dict[str, Any]:
    """Per deducted criterion: both rounds side by side, and the totals."""
    return await client.call(APPRAISAL, "deductions", assessment_id, principal.signed_actor())


def _deductions_title(data: dict[str, Any]) -> tuple[str, list[str]]:
    result = data["result"]
    lines = [f"{data['unit_name']} ({data['unit_code']}) - {data['campaign']['name']}",
             f"Tổng số điểm bị trừ: {documents.score(data['lost'])}"]
    if result["total"] is not None:
        lines.append(f"Tổng điểm cuối cùng: {documents.score(result['total'])} / "
                     f"{documents.score(result['max'])}; Chỉ số CCHC: "
                     f"{documents.score(result['index'])}%; xếp loại: "
                     f"{result['classification'] or ''}")
    return "Bảng tổng hợp các tiêu chí bị trừ điểm", lines


@router.get("/assessments/{assessment_id}/deductions.xlsx", response_class=Response)
async def deductions_xlsx(assessment_id: Id, principal: SignedIn, client: Rpc) -> Response:
    data = await client.call(APPRAISAL, "deductions", assessment_id, principal.signed_actor())
    title, _ = _deductions_title(data)
    content = await run_in_threadpool(documents.render_xlsx, "Điểm bị trừ", title,
                                      documents.DEDUCTION_HEADERS,
                                      documents.deduction_rows(data))
    return _file(content, documents.XLSX, f"diem-bi-tru-{data['unit_code']}.xlsx",
                 f"{title} - {data['unit_name']}.xlsx")


@router.get("/assessments/{assessment_id}/deductions.pdf", response_class=Response)
async def deductions_pdf(assessment_id: Id, principal: SignedIn, client: Rpc) -> Response:
    data = await client.call(APPRAISAL, "deductions", assessment_id, principal.signed_actor())
    title, lines = _deductions_title(data)
    content = await run_in_threadpool(documents.render_pdf, title, lines,
                                      documents.DEDUCTION_HEADERS,
                                      documents.deduction_rows(data),
                                      (5, 16, 6, 7, 16, 18, 12, 6, 6))
    return _file(content, "application/pdf", f"diem-bi-tru-{data['unit_code']}.pdf",
                 f"{title} - {data['unit_name']}.pdf")
