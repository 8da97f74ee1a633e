"""Evidence routes (tài liệu kiểm chứng): upload, download, delete.

The gateway streams the file into the store itself (``gateway.evidence.upload``) and
sends the evidence service only what it saw: hash, size and type. Who may act is the
policy module's (roles) and the submission service's (unit, assignee, lock) to say.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import StreamingResponse

from gateway.config import get_settings
from gateway.deps import object_store, rpc
from gateway.errors import Problem
from gateway.evidence.upload import receive_upload
from gateway.params import Code, Id
from gateway.policy import Principal, authenticated, require_roles
from gateway.rpc import RpcClient
from services.common.contracts import EVIDENCE, SUBMISSION
from services.common.objectstore import ObjectStore, object_key

router = APIRouter(prefix="/api/v1", tags=["evidence"])

# Multipart overhead allowed above the file limit before the body is even read.
_ENVELOPE = 64 * 1024

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object",
            "required": ["file", "doc_number", "title"],
            "properties": {
                "file": {"type": "string", "format": "binary",
                         "description": "PDF, JPEG or PNG (office files only for forms)"},
                "doc_number": {"type": "string", "example": "25/BC-UBND"},
                "doc_date": {"type": "string", "format": "date", "example": "2023-03-31"},
                "title": {"type": "string", "example": "Báo cáo CCHC quý I/2023"},
                "section": {"type": "string", "example": "Mục II.1, trang 3"},
            },
        }}},
    }
}

# The unit's own people upload and delete; the submission service then checks the unit,
# the assignee and the window.
UnitWriter = Annotated[Principal, Depends(require_roles("unit_leader", "unit_staff"))]
SignedIn = Annotated[Principal, Depends(authenticated)]
Rpc = Annotated[RpcClient, Depends(rpc)]
Store = Annotated[ObjectStore, Depends(object_store)]


@router.post(
    "/assessments/{aid}/entries/{code}/evidence",
    status_code=201,
    summary="Upload a document proving a criterion; the answer tells its checks",
    openapi_extra=_UPLOAD_BODY,
    responses={413: {"description": "file too large"}, 415: {"description": "refused type"},
               423: {"description": "window locked"}},
)
async def upload_evidence(
    aid: Id, code: Code, request: Request,
    principal: UnitWriter, client: Rpc, store: Store,
) -> dict[str, Any]:
    limit = get_settings().evidence_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + _ENVELOPE:
        raise Problem(413, "file_too_large",
                      f"Tệp vượt quá giới hạn {limit // (1024 * 1024)} MB / the file is larger "
                      f"than the {limit // (1024 * 1024)} MB limit", limit=limit)
    received = await receive_upload(request.stream(), request.headers.get("content-type", ""),
                                    store, limit)
    assert received.stored is not None
    meta = {name: received.fields.get(name) or None
            for name in ("doc_number", "doc_date", "title", "section")}
    upload = {"sha256": received.stored.sha256, "size": received.stored.size,
              "kind": received.kind, "original_name": received.filename}
    answer = await client.call(EVIDENCE, "add_evidence", aid, code, upload, meta,
                               principal.as_actor())
    # The description is answered back as kept, so a client sees nothing was dropped.
    return {"id": answer["id"], "canonical_name": answer["canonical_name"],
            "filename": answer["filename"], "checks": answer["checks"],
            **{name: answer.get(name) for name in ("doc_number", "doc_date", "title", "section")}}


@router.get(
    "/evidence/{evidence_id}",
    summary="Download a document; for whoever may see its assessment",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/pdf": {}, "image/jpeg": {}, "image/png": {}}}},
)
async def download_evidence(
    evidence_id: Id,
    principal: SignedIn, client: Rpc, store: Store,
) -> StreamingResponse:
    evidence = await client.call(EVIDENCE, "get_evidence", evidence_id)
    # The submission service knows who may read an assessment: 403/404 pass through.
    await client.call(SUBMISSION, "get_assessment_by_id", evidence["assessment_id"],
                      principal.as_actor())
    filename = evidence["filename"]
    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "")
    return StreamingResponse(
        # A sync iterator: Starlette pulls it in a worker thread, the loop stays free.
        store.iter_chunks(object_key(evidence["sha256"])),
        media_type=evidence["media_type"],
        headers={
            "Content-Length": str(evidence["size"]),
            "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                                   f"filename*=UTF-8''{quote(filename)}",
            "ETag": f"\"{evidence['sha256']}\"",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.delete(
    "/assessments/{aid}/entries/{code}/evidence/{evidence_id}",
    status_code=204,
    summary="Remove a document from a criterion (423 once the window is locked)",
)
async def delete_evidence(
    aid: Id, code: Code, evidence_id: Id,
    principal: UnitWriter, client: Rpc,
) -> Response:
    await client.call(EVIDENCE, "remove_evidence", aid, code, evidence_id, principal.as_actor())
    return Response(status_code=204)
