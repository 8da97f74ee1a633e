"""Criteria sets (bộ tiêu chí): upload as JSON, YAML or XLSX; read; export; version; clone."""

from __future__ import annotations

import base64
from typing import Any

import yaml
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway.deps import rpc
from gateway.errors import Problem
from gateway.params import Id
from gateway.policy import Principal, authenticated, require_roles
from gateway.rpc import RpcClient
from services.common.contracts import CRITERIA

router = APIRouter(prefix="/api/v1/catalogs", tags=["criteria sets"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
MAX_BODY = 2 * 1024 * 1024

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"type": "object"}},
            "application/yaml": {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"}}}},
        },
    }
}


class CatalogId(BaseModel):
    id: int


class CloneIn(BaseModel):
    year: int = Field(ge=2000, le=2100)
    name: str | None = None


async def _read_body(request: Request) -> tuple[str, bytes]:
    """The set as (kind, bytes), whichever way the admin sent it."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form(max_part_size=MAX_BODY)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Problem(422, "file_missing", "Thiếu tệp bộ tiêu chí / the 'file' part is missing")
        data = await upload.read(MAX_BODY + 1)
        name = (upload.filename or "").lower()
        kind = "xlsx" if name.endswith(".xlsx") else "yaml" if name.endswith((".yaml", ".yml")) \
            else "json"
    else:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > MAX_BODY:
                break
        data = bytes(buffer)
        kind = "xlsx" if content_type == XLSX else "yaml" if content_type in YAML_TYPES \
            else "json"
    if len(data) > MAX_BODY:
        raise Problem(413, "too_large",
                      "Tệp bộ tiêu chí quá lớn (tối đa 2 MB) / set larger than 2 MB")
    if not data:
        raise Problem(422, "empty_body", "Không có nội dung / empty body")
    return kind, data


class _NoAliasLoader(yaml.SafeLoader):
    """safe_load without aliases: a set never needs them, and a 236-byte document of
    nested aliases ("billion laughs") expands to millions of nodes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not accepted", event.start_mark)
        return super().compose_node(parent, index)


def _parse_text(kind: str, data: bytes) -> Any:
    try:
        # YAML is a superset of JSON; the safe loader never builds arbitrary objects.
        return yaml.load(data.decode("utf-8"), Loader=_NoAliasLoader)  # noqa: S506
    except yaml.composer.ComposerError as exc:
        raise Problem(422, "yaml_alias_refused",
                      "Không chấp nhận bí danh YAML (*tên) / YAML aliases are not accepted: "
                      f"{exc.problem}") from None
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError) as exc:
        # RecursionError: thousands of nested brackets.
        raise Problem(422, "unreadable_body",
                      f"Không đọc được nội dung {kind.upper()} / unreadable {kind.upper()}: "
                      f"{type(exc).__name__}") from None


@router.post("", status_code=201, response_model=CatalogId, openapi_extra=_BODY_DOC,
             summary="Upload a criteria set (JSON, YAML or XLSX); 422 lists every problem")
async def create_catalog(
    request: Request,
    _: Principal = Depends(require_roles("admin")),
    client: RpcClient = Depends(rpc),
) -> dict[str, int]:
    kind, data = await _read_body(request)
    if kind == "xlsx":
        return await client.call(CRITERIA, "import_xlsx", base64.b64encode(data).decode())
    # PyYAML is pure Python: a large set would hold the event loop for a while.
    parsed = await run_in_threadpool(_parse_text, kind, data)
    return await client.call(CRITERIA, "create_catalog", parsed)


@router.get("", summary="Criteria sets, newest year first")
async def list_catalogs(
    _: Principal = Depends(authenticated), client: RpcClient = Depends(rpc)
) -> list[dict[str, Any]]:
    return await client.call(CRITERIA, "list_catalogs")


@router.get("/{catalog_id}.xlsx", summary="A criteria set as an XLSX workbook",
            response_class=Response, responses={200: {"content": {XLSX: {}}}})
async def export_catalog(
    catalog_id: Id, _: Principal = Depends(authenticated), client: RpcClient = Depends(rpc)
) -> Response:
    exported = await client.call(CRITERIA, "export_xlsx", catalog_id)
    return Response(
        base64.b64decode(exported["content_b64"]), media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="bo-tieu-chi-{catalog_id}.xlsx"'},
    )


@router.get("/{catalog_id}", summary="A criteria set, its whole tree")
async def get_catalog(
    catalog_id: Id, _: Principal = Depends(authenticated), client: RpcClient = Depends(rpc)
) -> dict[str, Any]:
    return await client.call(CRITERIA, "get_catalog", catalog_id)


@router.put("/{catalog_id}", openapi_extra=_BODY_DOC,
            summary="Change a set: in place until a campaign uses it, else a new version")
async def update_catalog(
    catalog_id: Id,
    request: Request,
    _: Principal = Depends(require_roles("admin")),
    client: RpcClient = Depends(rpc),
) -> dict[str, Any]:
    kind, data = await _read_body(request)
    if kind == "xlsx":
        raise Problem(415, "xlsx_not_for_update",
                      "Cập nhật bằng JSON hoặc YAML / send changes as JSON or YAML")
    return await client.call(CRITERIA, "update_catalog", catalog_id,
                             await run_in_threadpool(_parse_text, kind, data))


@router.post("/{catalog_id}/clone", status_code=201, response_model=CatalogId,
             summary="Copy a set to a new year")
async def clone_catalog(
    catalog_id: Id,
    body: CloneIn,
    _: Principal = Depends(require_roles("admin")),
    client: RpcClient = Depends(rpc),
) -> dict[str, int]:
    return await client.call(CRITERIA, "clone_catalog", catalog_id, body.year, body.name)
