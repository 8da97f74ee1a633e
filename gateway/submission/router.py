"""Campaigns and a unit's assessment: the routes of API.md, over the submission service.

Roles are checked here (gateway.policy); which unit, which criterion and which
window are checked by the submission service inside the write's transaction, from
the actor passed along.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Header, Response, UploadFile
from starlette.concurrency import run_in_threadpool

from gateway.deps import object_store, rpc
from gateway.params import Code, Id
from gateway.policy import Principal, authenticated, ensure_unit_scope, require_roles
from gateway.rpc import RemoteError, RpcClient
from gateway.submission.schemas import CampaignBody, EntryBody, NewWindowBody
from gateway.submission.summary import render_pdf, render_xlsx
from gateway.submission.uploads import forget_signed_summary, store_signed_summary
from services.common.contracts import SUBMISSION
from services.common.objectstore import ObjectStore

router = APIRouter(prefix="/api/v1", tags=["campaigns and assessments"])

Rpc = Annotated[RpcClient, Depends(rpc)]
SignedIn = Annotated[Principal, Depends(authenticated)]
Admin = Annotated[Principal, Depends(require_roles("admin"))]
AdminOrViewer = Annotated[Principal, Depends(require_roles("admin", "viewer"))]
Leader = Annotated[Principal, Depends(require_roles("unit_leader"))]
UnitMember = Annotated[Principal, Depends(require_roles("unit_leader", "unit_staff"))]
# The unit itself, and those who read every unit's assessment (the submission service
# then checks which unit).
UnitReader = Annotated[Principal, Depends(require_roles("unit_leader", "unit_staff", "admin",
                                                        "appraiser"))]
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", max_length=200,
    description="the same key twice gives the first answer and changes nothing more")]
IfMatch = Annotated[str | None, Header(alias="If-Match",
                                       description="the entry's version, e.g. 3")]


def _etag(response: Response, body: dict[str, Any]) -> dict[str, Any]:
    if "version" in body:
        response.headers["ETag"] = f'"{body["version"]}"'
    return body


@router.post("/campaigns", status_code=201)
async def create_campaign(
    body: CampaignBody, principal: Admin,
    client: Rpc,
) -> dict[str, int]:
    """Đợt đánh giá mới: an assessment per unit, windows in Asia/Ho_Chi_Minh."""
    return await client.call(SUBMISSION, "create_campaign", body.model_dump(mode="json"),
                             principal.as_actor())


@router.get("/campaigns")
async def list_campaigns(
    principal: SignedIn, client: Rpc,
) -> list[dict[str, Any]]:
    return await client.call(SUBMISSION, "list_campaigns")


@router.get("/campaigns/{campaign_id}")
async def get_campaign(
    campaign_id: Id, principal: SignedIn,
    client: Rpc,
) -> dict[str, Any]:
    """The campaign, its windows and whether each is open now (by the server's clock)."""
    return await client.call(SUBMISSION, "get_campaign", campaign_id)


@router.post("/campaigns/{campaign_id}/windows", status_code=201)
async def add_window(
    campaign_id: Id, body: NewWindowBody,
    principal: Admin, client: Rpc,
) -> dict[str, Any]:
    """Opens a later round: supplement or appraisal."""
    return await client.call(SUBMISSION, "add_window", campaign_id,
                             body.model_dump(mode="json"), principal.as_actor())


@router.get("/campaigns/{campaign_id}/progress")
async def progress(
    campaign_id: Id, principal: AdminOrViewer,
    client: Rpc,
) -> list[dict[str, Any]]:
    """Per unit: criteria done / total, sent or not, last change."""
    return await client.call(SUBMISSION, "progress", campaign_id)


@router.get("/campaigns/{campaign_id}/assessments/{unit_code}")
async def get_assessment(
    campaign_id: Id, unit_code: str, principal: SignedIn,
    client: Rpc,
) -> dict[str, Any]:
    """The unit's assessment with totals, index and every entry (the unit, appraisers, admin)."""
    ensure_unit_scope(principal, unit_code, across_units=("admin", "appraiser"))
    return await client.call(SUBMISSION, "get_assessment", campaign_id, unit_code,
                             principal.as_actor())


@router.get("/assessments/{assessment_id}")
async def get_assessment_by_id(
    assessment_id: Id, principal: SignedIn,
    client: Rpc,
) -> dict[str, Any]:
    return await client.call(SUBMISSION, "get_assessment_by_id", assessment_id,
                             principal.as_actor())


@router.put("/assessments/{assessment_id}/assignments")
async def assign(
    assessment_id: Id, body: dict[str, str | None],
    principal: Leader,
    client: Rpc, idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """``{"<code>": "<username>"}``; a field or criterion assigns every leaf under it."""
    return await client.call(SUBMISSION, "assign", assessment_id, body, principal.as_actor(),
                             idempotency_key=idempotency_key)


@router.put("/assessments/{assessment_id}/entries/{code}")
async def save_entry(
    assessment_id: Id, code: Code, body: EntryBody, response: Response,
    principal: UnitMember, client: Rpc,
    if_match: IfMatch = None, idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Cập nhật: 422 a score the rule refuses, 409 stale If-Match, 423 after the lock."""
    saved = await client.call(SUBMISSION, "save_entry", assessment_id, code,
                              body.model_dump(mode="json", exclude_none=True),
                              principal.as_actor(), if_match=if_match,
                              idempotency_key=idempotency_key)
    return _etag(response, saved)


@router.post("/assessments/{assessment_id}/entries/{code}/complete")
async def complete_entry(
    assessment_id: Id, code: Code, response: Response,
    principal: UnitMember, client: Rpc,
    if_match: IfMatch = None, idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Hoàn thành: 422 ``explanation_missing`` / ``evidence_missing`` with the reasons."""
    done = await client.call(SUBMISSION, "complete_entry", assessment_id, code,
                             principal.as_actor(), if_match=if_match,
                             idempotency_key=idempotency_key)
    return _etag(response, done)


@router.post("/assessments/{assessment_id}/submit")
async def submit(
    assessment_id: Id, signed_summary: Annotated[UploadFile, File()],
    proposed_classification: Annotated[str, Form()],
    principal: Leader,
    client: Rpc, store: Annotated[ObjectStore, Depends(object_store)],
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Gửi báo cáo: the signed summary (PDF) and the proposed classification."""
    stored = await run_in_threadpool(store_signed_summary, store, signed_summary.file,
                                     signed_summary.filename or "")
    reference = {k: v for k, v in stored.items() if k != "created"}
    try:
        return await client.call(SUBMISSION, "submit", assessment_id,
                                 {"signed_summary": reference,
                                  "proposed_classification": proposed_classification},
                                 principal.as_actor(), idempotency_key=idempotency_key)
    except RemoteError:
        # Refused: nothing stays in the store for a sending not accepted. (A timeout
        # keeps the file: the sending may still commit, and would then need it.)
        await run_in_threadpool(forget_signed_summary, store, stored)
        raise


@router.post("/assessments/{assessment_id}/withdraw")
async def withdraw(
    assessment_id: Id, principal: Leader, client: Rpc, idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Rút báo cáo: take the sending back to edit it, while the window is still open."""
    return await client.call(SUBMISSION, "withdraw", assessment_id, principal.as_actor(),
                             idempotency_key=idempotency_key)


@router.get("/assessments/{assessment_id}/precheck")
async def precheck(
    assessment_id: Id, principal: UnitReader, client: Rpc,
) -> list[dict[str, Any]]:
    """Kiểm tra trước khi gửi: per criterion, what the council will refuse and the score
    it will then give (``predicted_score``: "0" for a letter-suffixed number, an
    explanation naming no document and section, or missing evidence)."""
    return await client.call(SUBMISSION, "precheck", assessment_id, principal.as_actor())


@router.get("/assessments/{assessment_id}/history")
async def history(
    assessment_id: Id, principal: SignedIn,
    client: Rpc,
) -> list[dict[str, Any]]:
    """Who changed what, when, before and after."""
    return await client.call(SUBMISSION, "history", assessment_id, principal.as_actor())


def _download(content: bytes, media_type: str, data: dict[str, Any], ext: str) -> Response:
    name = f"bang-tong-hop-{data['unit_code']}.{ext}"
    pretty = f"Bảng tổng hợp - {data['unit_name']}.{ext}"
    disposition = f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(pretty)}"
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": disposition})


@router.get("/assessments/{assessment_id}/summary.pdf", response_class=Response)
async def summary_pdf(
    assessment_id: Id, principal: SignedIn,
    client: Rpc,
) -> Response:
    """The summary table to sign, as PDF."""
    data = await client.call(SUBMISSION, "summary", assessment_id, principal.as_actor())
    return _download(await run_in_threadpool(render_pdf, data), "application/pdf", data, "pdf")


@router.get("/assessments/{assessment_id}/summary.xlsx", response_class=Response)
async def summary_xlsx(
    assessment_id: Id, principal: SignedIn,
    client: Rpc,
) -> Response:
    """The summary table, as XLSX."""
    data = await client.call(SUBMISSION, "summary", assessment_id, principal.as_actor())
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(await run_in_threadpool(render_xlsx, data), media, data, "xlsx")
