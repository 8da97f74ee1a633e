"""Sở Nội vụ's pages: units, accounts, criteria sets, campaigns and windows, progress."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from gateway.policy import Principal, page_authenticated, page_roles
from gateway.web.api import Api, ApiError
from gateway.web.pages.home import campaign_page
from gateway.web.render import VIETNAM, page, redirect
from gateway.web.session import posted_form

router = APIRouter(include_in_schema=False)

Admin = Annotated[Principal, Depends(page_roles("admin"))]
AdminOrViewer = Annotated[Principal, Depends(page_roles("admin", "viewer"))]
SignedIn = Annotated[Principal, Depends(page_authenticated)]
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
ROLE_NAMES = ("admin", "unit_leader", "unit_staff", "appraiser", "viewer")
# Account lists: the column headings a province's spreadsheet may use, in either language.
ACCOUNT_COLUMNS = {
    "username": "username", "tên đăng nhập": "username",
    "full_name": "full_name", "họ và tên": "full_name", "họ tên": "full_name",
    "email": "email", "zalo_phone": "zalo_phone", "zalo": "zalo_phone",
    "số điện thoại zalo": "zalo_phone",
    "roles": "roles", "vai trò": "roles",
    "unit_code": "unit_code", "mã đơn vị": "unit_code",
    "department_code": "department_code", "mã phòng ban": "department_code",
}
MAX_LIST_BYTES = 2 * 1024 * 1024


def _upload(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


# --- Units --------------------------------------------------------------------------------

async def _units_page(request: Request, me: Principal, **context: Any) -> Response:
    units = await Api(request).get("/units")
    context.setdefault("typed", {})
    return page(request, "admin_units.html", me, units=units, **context)


@router.get("/admin/units")
async def units(request: Request, me: Admin) -> Response:
    return await _units_page(request, me)


@router.post("/admin/units")
async def add_unit(request: Request, me: Admin) -> Response:
    form = await posted_form(request)
    unit = {k: str(form.get(k) or "").strip() or None
            for k in ("code", "name", "type", "parent_code")}
    try:
        await Api(request).post("/units", json=[unit])
    except ApiError as exc:
        return await _units_page(request, me, error=exc, status_code=exc.status, typed=unit)
    return redirect(request, "/admin/units?ok=unit")


# --- Accounts -----------------------------------------------------------------------------

async def _accounts_page(request: Request, me: Principal, **context: Any) -> Response:
    api = Api(request)
    accounts, units_ = await asyncio.gather(api.get("/users"), api.get("/units"))
    return page(request, "admin_accounts.html", me, accounts=accounts, units=units_,
                role_names=ROLE_NAMES, **context)


@router.get("/admin/accounts")
async def accounts(request: Request, me: Admin) -> Response:
    return await _accounts_page(request, me)


def _account(form: FormData) -> dict[str, Any]:
    account: dict[str, Any] = {k: str(form.get(k) or "").strip() or None
                               for k in ("username", "full_name", "email", "zalo_phone",
                                         "unit_code", "department_code")}
    account["roles"] = [str(r) for r in form.getlist("roles")]
    return account


def read_account_list(data: bytes) -> list[dict[str, Any]]:
    """Accounts from an XLSX list: a heading row, then one person a row."""
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises many kinds on a file that is not a workbook
        raise ApiError(422, {"code": "unreadable_list",
                             "detail": f"Không đọc được tệp XLSX / not a readable XLSX file "
                                       f"({type(exc).__name__})"}) from None
    rows = sheet.iter_rows(values_only=True)
    heading = [ACCOUNT_COLUMNS.get(str(h or "").strip().lower()) for h in next(rows, ())]
    if "username" not in heading or "full_name" not in heading:
        raise ApiError(422, {"code": "list_columns",
                             "detail": "Tệp cần các cột «Tên đăng nhập» và «Họ và tên» / "
                                       "the list needs username and full_name columns"})
    people = []
    for row in rows:
        if not any(row):
            continue
        person: dict[str, Any] = {}
        for name, value in zip(heading, row, strict=False):
            if name:
                person[name] = None if value is None else str(value).strip() or None
        person["roles"] = [r.strip() for r in (person.get("roles") or "unit_staff").split(",")
                           if r.strip()]
        people.append(person)
    return people


@router.post("/admin/accounts")
async def add_accounts(request: Request, me: Admin) -> Response:
    form = await posted_form(request)
    upload = _upload(form, "list")
    typed = None
    try:
        if upload is not None:
            data = await upload.read(MAX_LIST_BYTES + 1)
            if len(data) > MAX_LIST_BYTES:
                raise ApiError(413, {"code": "too_large",
                                     "detail": "Danh sách quá lớn (tối đa 2 MB) / "
                                               "the list is larger than 2 MB"})
            people = await run_in_threadpool(read_account_list, data)
            issued = await Api(request).post("/users", json=people)
        else:
            typed = _account(form)
            issued = [await Api(request).post("/users", json=typed)]
    except ApiError as exc:
        return await _accounts_page(request, me, error=exc, status_code=exc.status, typed=typed)
    # The issued passwords are in this answer only: never stored, never in a URL.
    return await _accounts_page(request, me, issued=issued)


# --- Criteria sets ------------------------------------------------------------------------

async def _catalogs_page(request: Request, me: Principal, **context: Any) -> Response:
    catalogs = await Api(request).get("/catalogs")
    return page(request, "catalogs.html", me, catalogs=catalogs, **context)


@router.get("/catalogs")
async def catalogs(request: Request, me: SignedIn) -> Response:
    return await _catalogs_page(request, me)


_CATALOG_TYPES = {".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  ".yaml": "application/yaml", ".yml": "application/yaml",
                  ".json": "application/json"}


@router.post("/catalogs")
async def import_catalog(request: Request, me: Admin) -> Response:
    form = await posted_form(request)
    upload = _upload(form, "file")
    try:
        if upload is None:
            raise ApiError(422, {"code": "file_missing",
                                 "detail": "Chưa chọn tệp bộ tiêu chí / no file chosen"})
        name = (upload.filename or "").lower()
        kind = next((t for ext, t in _CATALOG_TYPES.items() if name.endswith(ext)),
                    "application/yaml")
        created = await Api(request).post("/catalogs", files={"file": (upload.filename,
                                                                       upload.file, kind)})
    except ApiError as exc:
        return await _catalogs_page(request, me, error=exc, status_code=exc.status)
    return redirect(request, f"/catalogs/{created['id']}?ok=catalog")


def catalog_rows(nodes: list[dict[str, Any]], depth: int = 0) -> list[dict[str, Any]]:
    rows = []
    for node in nodes:
        rows.append({"node": node, "depth": depth})
        rows.extend(catalog_rows(node.get("children") or [], depth + 1))
    return rows


@router.get("/catalogs/{catalog_id}")
async def catalog(request: Request, catalog_id: Id, me: SignedIn) -> Response:
    found = await Api(request).get(f"/catalogs/{catalog_id}")
    return page(request, "catalog.html", me, catalog=found,
                rows=catalog_rows(found.get("nodes") or []))


# --- Campaigns and windows ----------------------------------------------------------------

def vietnam_instant(value: str) -> str:
    """A ``datetime-local`` value, read as Vietnam time, as ISO 8601 with its offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ApiError(422, {"code": "invalid_time",
                             "detail": "Thời điểm không hợp lệ / invalid date and time"}) from None
    return moment.replace(tzinfo=VIETNAM).isoformat()


def reminder_minutes(hours: str) -> list[int]:
    """``"72, 24, 2"`` (hours, as people say it) → minutes, as the API takes them."""
    try:
        return [int(Decimal(h) * 60) for h in re.split(r"[;,\s]+", hours) if h]
    except InvalidOperation:
        raise ApiError(422, {"code": "invalid_reminders",
                             "detail": "Giờ nhắc phải là các số, ví dụ 72 24 2 / reminders "
                                       "must be numbers of hours"}) from None


async def _campaigns_page(request: Request, me: Principal, **context: Any) -> Response:
    api = Api(request)
    campaigns, catalogs_, units_ = await asyncio.gather(
        api.get("/campaigns"), api.get("/catalogs"), api.get("/units"))
    return page(request, "admin_campaigns.html", me, campaigns=campaigns, catalogs=catalogs_,
                units=units_, **context)


@router.get("/admin/campaigns")
async def campaigns(request: Request, me: Admin) -> Response:
    return await _campaigns_page(request, me)


@router.post("/admin/campaigns")
async def create_campaign(request: Request, me: Admin) -> Response:
    form = await posted_form(request)
    try:
        body = {
            "name": str(form.get("name") or ""),
            "year": str(form.get("year") or ""),
            "catalog_id": str(form.get("catalog_id") or ""),
            "unit_codes": [str(u) for u in form.getlist("unit_codes")],
            "windows": {"self_assessment": {
                "opens_at": vietnam_instant(str(form.get("opens_at") or "")),
                "locks_at": vietnam_instant(str(form.get("locks_at") or ""))}},
            "unranked_unit_codes": [str(u) for u in form.getlist("unranked_unit_codes")],
            "reminders_minutes_before_lock": reminder_minutes(str(form.get("reminders") or "")),
        }
        if form.get("data_cutoff_date"):
            body["data_cutoff_date"] = str(form.get("data_cutoff_date"))
        created = await Api(request).post("/campaigns", json=body)
    except ApiError as exc:
        return await _campaigns_page(request, me, error=exc, status_code=exc.status)
    return redirect(request, f"/campaigns/{created['id']}?ok=campaign")


@router.post("/admin/campaigns/{campaign_id}/windows")
async def add_window(request: Request, campaign_id: Id, me: Admin) -> Response:
    form = await posted_form(request)
    api = Api(request)
    try:
        await api.post(f"/campaigns/{campaign_id}/windows", json={
            "kind": str(form.get("kind") or ""),
            "opens_at": vietnam_instant(str(form.get("opens_at") or "")),
            "locks_at": vietnam_instant(str(form.get("locks_at") or ""))})
    except ApiError as exc:
        return await campaign_page(request, campaign_id, me, error=exc, status_code=exc.status)
    return redirect(request, f"/campaigns/{campaign_id}?ok=window")


# --- Progress -----------------------------------------------------------------------------

def progress_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Bars of done / total per unit, laid out for an inline SVG (no script needed)."""
    bar, gap, width = 22, 8, 100
    bars = []
    for i, row in enumerate(rows):
        share = row["done"] / row["total"] if row["total"] else 0
        bars.append({"y": i * (bar + gap), "width": round(share * width, 2),
                     "percent": round(share * 100), "row": row})
    return {"bars": bars, "height": max(len(rows) * (bar + gap), bar), "bar": bar}


async def _progress(request: Request, campaign_id: int) -> dict[str, Any]:
    api = Api(request)
    campaign, rows = await asyncio.gather(api.get(f"/campaigns/{campaign_id}"),
                                          api.get(f"/campaigns/{campaign_id}/progress"))
    sent = sum(1 for r in rows if r["submitted"])
    return {"campaign": campaign, "rows": rows, "chart": progress_chart(rows), "sent": sent}


@router.get("/campaigns/{campaign_id}/progress")
async def progress(request: Request, campaign_id: Id, me: AdminOrViewer) -> Response:
    context = await _progress(request, campaign_id)
    # htmx refreshes the table and chart in place every 30 s.
    template = "_progress.html" if request.headers.get("HX-Request") else "progress.html"
    return page(request, template, me, **context)
