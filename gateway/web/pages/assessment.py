"""A unit's assessment (bản tự đánh giá): the tree, entry forms, evidence, assignment, sending.

Staff see the criteria assigned to them, the leader the whole assessment. Every write
goes through the API route a script would use; its refusal (422 rule, 409 stale
version, 423 locked) comes back as the page with the API's message beside the form.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from gateway.policy import Principal, page_authenticated, page_roles
from gateway.web.api import Api, ApiError
from gateway.web.labels import entry_state
from gateway.web.pages.home import next_lock
from gateway.web.render import page, redirect, retry_later
from gateway.web.session import posted_form

router = APIRouter(include_in_schema=False)

SignedIn = Annotated[Principal, Depends(page_authenticated)]
UnitMember = Annotated[Principal, Depends(page_roles("unit_leader", "unit_staff"))]
Leader = Annotated[Principal, Depends(page_roles("unit_leader"))]
Id = Annotated[int, Path(ge=1, le=2_147_483_647)]
Code = Annotated[str, Path(min_length=1, max_length=30)]


def is_leader_of(me: Principal, unit_code: str) -> bool:
    return "unit_leader" in me.roles and me.unit_code == unit_code


def tree_rows(catalog: dict[str, Any], entries: list[dict[str, Any]],
              me: Principal, unit_code: str) -> list[dict[str, Any]]:
    """The set's tree with each leaf's entry; staff get their own leaves and what holds them."""
    by_code = {e["code"]: e for e in entries}
    mine_only = not is_leader_of(me, unit_code) and "unit_staff" in me.roles \
        and me.unit_code == unit_code
    rows: list[dict[str, Any]] = []

    def walk(nodes: list[dict[str, Any]], depth: int) -> tuple[Decimal, bool]:
        total, shown_any = Decimal(0), False
        for node in nodes:
            children = node.get("children") or []
            if children:
                at = len(rows)
                rows.append({"node": node, "depth": depth, "entry": None})
                sub_total, shown = walk(children, depth + 1)
                if shown:
                    rows[at]["score"] = sub_total
                    total += sub_total
                    shown_any = True
                else:
                    del rows[at:]
                continue
            entry = by_code.get(node["code"])
            if entry is None or (mine_only and entry.get("assignee") != me.username):
                continue
            score = Decimal(entry["self_score"]) if entry.get("self_score") is not None \
                and not entry.get("not_applicable") else Decimal(0)
            rows.append({"node": node, "depth": depth, "entry": entry, "score": score,
                         "state": entry_state(entry)})
            total += score
            shown_any = True
        return total, shown_any

    walk(catalog.get("nodes") or [], 0)
    return rows


async def _assessment_context(api: Api, campaign_id: int, unit_code: str) -> dict[str, Any]:
    campaign, assessment = await asyncio.gather(
        api.get(f"/campaigns/{campaign_id}"),
        api.get(f"/campaigns/{campaign_id}/assessments/{unit_code}"))
    catalog = await api.get(f"/catalogs/{campaign['catalog_id']}")
    return {"campaign": campaign, "assessment": assessment, "catalog": catalog}


async def _precheck(api: Api, assessment_id: int) -> list[dict[str, Any]]:
    """What the council will refuse, per criterion, before the leader sends."""
    return await api.get(f"/assessments/{assessment_id}/precheck")


@router.get("/campaigns/{campaign_id}/units/{unit_code}")
async def assessment(request: Request, campaign_id: Id, unit_code: Code, me: SignedIn) -> Response:
    return await assessment_page(request, campaign_id, unit_code, me)


async def assessment_page(
    request: Request, campaign_id: int, unit_code: str, me: Principal,
    error: ApiError | None = None, status_code: int = 200,
) -> Response:
    api = Api(request)
    context = await _assessment_context(api, campaign_id, unit_code)
    assessment = context["assessment"]
    leader = is_leader_of(me, unit_code)
    precheck, names = None, {}
    if leader:
        # The leader assigned these people: their names, not their sign-in names.
        precheck, people = await asyncio.gather(
            _precheck(api, assessment["id"]), api.get("/users", params={"unit_code": unit_code}))
        names = {p["username"]: p["full_name"] for p in people}
    return page(
        request, "assessment.html", me, status_code=status_code, error=error, **context,
        rows=tree_rows(context["catalog"], assessment["entries"], me, unit_code),
        leader=leader, precheck=precheck, names=names,
        next_lock=next_lock([context["campaign"]]))


async def _by_id(api: Api, assessment_id: int) -> dict[str, Any]:
    return await api.get(f"/assessments/{assessment_id}")


def _back(assessment: dict[str, Any]) -> str:
    return f"/campaigns/{assessment['campaign_id']}/units/{assessment['unit_code']}"


# --- One criterion ---------------------------------------------------------------------

def entry_body(rule: dict[str, Any], form: FormData) -> dict[str, Any]:
    """The API's entry body from the form: the inputs the criterion's rule takes."""
    body: dict[str, Any] = {"explanation": str(form.get("explanation") or "")}
    kind = rule.get("kind")
    fields = {"options": ("option",), "ratio": ("done", "planned"), "range": ("self_score",),
              "deduction": ("count",)}.get(kind, ())
    for name in fields:
        value = str(form.get(name) or "").strip().replace(",", ".")
        if value:
            body[name] = value
    body["not_applicable"] = form.get("not_applicable") == "on"
    return body


async def entry_view(request: Request, me: Principal, assessment_id: int, code: str, *,
                     error: ApiError | None = None, typed: dict[str, Any] | None = None,
                     status_code: int = 200) -> Response:
    api = Api(request)
    assessment, council, comments, round_two = await asyncio.gather(
        _by_id(api, assessment_id), api.get_or({}, f"/assessments/{assessment_id}/appraisal"),
        api.get_or([], f"/assessments/{assessment_id}/entries/{code}/comments"),
        api.get(f"/assessments/{assessment_id}/supplements"))
    entry = next((e for e in assessment["entries"] if e["code"] == code), None)
    if entry is None:
        raise ApiError(404, {"code": "not_found",
                             "detail": f"Không tìm thấy tiêu chí {code} / criterion not found"})
    campaign = await api.get(f"/campaigns/{assessment['campaign_id']}")
    values = {**(entry.get("inputs") or {}), "explanation": entry.get("explanation") or "",
              "not_applicable": entry.get("not_applicable"),
              "supplement": round_two.get(code) or {}}
    if typed:
        values.update(typed)
    appraised = next((e for e in council.get("entries") or [] if e["code"] == code), None)
    return page(request, "entry.html", me, status_code=status_code, error=error,
                assessment=assessment, entry=entry, campaign=campaign, values=values,
                appraised=appraised, comments=comments,
                state=entry_state(entry), back=_back(assessment),
                may_write=is_leader_of(me, assessment["unit_code"])
                or entry.get("assignee") == me.username,
                next_lock=next_lock([campaign]))


@router.get("/assessments/{assessment_id}/entries/{code}")
async def entry_page(request: Request, assessment_id: Id, code: Code, me: SignedIn) -> Response:
    return await entry_view(request, me, assessment_id, code)


@router.post("/assessments/{assessment_id}/entries/{code}")
async def save_entry(
    request: Request, assessment_id: Id, code: Code, me: UnitMember
) -> Response:
    form = await posted_form(request)
    api = Api(request)
    headers = {"If-Match": str(form.get("version") or "")}
    typed: dict[str, Any] | None = None
    try:
        if form.get("action") == "complete":
            await api.post(f"/assessments/{assessment_id}/entries/{code}/complete",
                           headers=headers)
            done = "completed"
        else:
            assessment = await _by_id(api, assessment_id)
            entry = next(e for e in assessment["entries"] if e["code"] == code)
            body = entry_body(entry["rule"] or {}, form)
            typed = {k: v for k, v in body.items()}
            await api.put(f"/assessments/{assessment_id}/entries/{code}", json=body,
                          headers=headers)
            done = "saved"
    except ApiError as exc:
        busy = retry_later(request, me, form, exc)
        if busy is not None:
            return busy
        return await entry_view(request, me, assessment_id, code, error=exc, typed=typed,
                                 status_code=exc.status)
    return redirect(request, f"/assessments/{assessment_id}/entries/{code}?ok={done}")


def _upload(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


@router.post("/assessments/{assessment_id}/entries/{code}/supplement")
async def supplement(
    request: Request, assessment_id: Id, code: Code, me: UnitMember
) -> Response:
    """Vòng 2: the returned criterion's new explanation and proposed score."""
    form = await posted_form(request)
    body = {"explanation": str(form.get("explanation") or ""),
            "proposed_score": str(form.get("proposed_score") or "").strip().replace(",", ".")}
    try:
        await Api(request).put(f"/assessments/{assessment_id}/entries/{code}/supplement",
                               json=body)
    except ApiError as exc:
        return await entry_view(request, me, assessment_id, code, error=exc,
                                status_code=exc.status,
                                typed={"supplement": body})
    return redirect(request, f"/assessments/{assessment_id}/entries/{code}?ok=supplemented")


@router.post("/assessments/{assessment_id}/entries/{code}/evidence")
async def upload_evidence(
    request: Request, assessment_id: Id, code: Code, me: UnitMember
) -> Response:
    form = await posted_form(request)
    upload = _upload(form, "file")
    fields = {name: str(form.get(name) or "")
              for name in ("doc_number", "doc_date", "title", "section")}
    try:
        if upload is None:
            raise ApiError(422, {"code": "file_missing",
                                 "detail": "Chưa chọn tệp tài liệu / no file chosen"})
        await Api(request).send(
            "POST", f"/assessments/{assessment_id}/entries/{code}/evidence",
            data={k: v for k, v in fields.items() if v},
            files={"file": (upload.filename, upload.file,
                            upload.content_type or "application/octet-stream")})
    except ApiError as exc:
        return await entry_view(request, me, assessment_id, code, error=exc,
                                 status_code=exc.status)
    return redirect(request, f"/assessments/{assessment_id}/entries/{code}?ok=uploaded#evidence")


@router.post("/assessments/{assessment_id}/entries/{code}/evidence/{evidence_id}/delete")
async def remove_evidence(
    request: Request, assessment_id: Id, code: Code, evidence_id: Id, me: UnitMember
) -> Response:
    await posted_form(request)
    try:
        await Api(request).delete(
            f"/assessments/{assessment_id}/entries/{code}/evidence/{evidence_id}")
    except ApiError as exc:
        return await entry_view(request, me, assessment_id, code, error=exc,
                                 status_code=exc.status)
    return redirect(request, f"/assessments/{assessment_id}/entries/{code}?ok=removed#evidence")


# --- The leader: assignment, sending, withdrawing ----------------------------------------

async def _assign_page(request: Request, me: Principal, assessment_id: int, *,
                       error: ApiError | None = None, status_code: int = 200) -> Response:
    api = Api(request)
    assessment = await _by_id(api, assessment_id)
    campaign = await api.get(f"/campaigns/{assessment['campaign_id']}")
    catalog, people = await asyncio.gather(
        api.get(f"/catalogs/{campaign['catalog_id']}"),
        api.get("/users", params={"unit_code": assessment["unit_code"]}))
    return page(request, "assign.html", me, status_code=status_code, error=error,
                assessment=assessment, campaign=campaign, back=_back(assessment),
                rows=tree_rows(catalog, assessment["entries"], me, assessment["unit_code"]),
                people=sorted(people, key=lambda p: p["full_name"]))


@router.get("/assessments/{assessment_id}/assign")
async def assign_form(request: Request, assessment_id: Id, me: Leader) -> Response:
    return await _assign_page(request, me, assessment_id)


@router.post("/assessments/{assessment_id}/assign")
async def assign(request: Request, assessment_id: Id, me: Leader) -> Response:
    form = await posted_form(request)
    api = Api(request)
    assessment = await _by_id(api, assessment_id)
    current = {e["code"]: e.get("assignee") or "" for e in assessment["entries"]}
    # Fields and criteria first (they assign every leaf under them), then the leaves
    # whose own choice differs from what they have now.
    body: dict[str, str | None] = {}
    for key, value in form.multi_items():
        if not key.startswith("assign:") or not isinstance(value, str):
            continue
        code = key.removeprefix("assign:")
        if code not in current and value:
            body[code] = value
    for key, value in form.multi_items():
        code = key.removeprefix("assign:")
        if key.startswith("assign:") and code in current and value != current[code] \
                and isinstance(value, str) and not _covered(code, body):
            body[code] = value or None
    try:
        if body:
            await api.put(f"/assessments/{assessment_id}/assignments", json=body)
    except ApiError as exc:
        return await _assign_page(request, me, assessment_id, error=exc,
                                  status_code=exc.status)
    return redirect(request, f"{_back(assessment)}?ok=assigned")


def _covered(code: str, chosen: dict[str, Any]) -> bool:
    """A leaf under a field or criterion chosen in the same form follows that choice."""
    return any(code.startswith(parent + ".") for parent in chosen)


@router.post("/assessments/{assessment_id}/submit")
async def submit(request: Request, assessment_id: Id, me: Leader) -> Response:
    form = await posted_form(request)
    api = Api(request)
    assessment = await _by_id(api, assessment_id)
    upload = _upload(form, "signed_summary")
    try:
        if upload is None:
            raise ApiError(422, {"code": "file_missing",
                                 "detail": "Chưa chọn bảng tổng hợp đã ký số / "
                                           "no signed summary chosen"})
        await api.send("POST", f"/assessments/{assessment_id}/submit",
                       data={"proposed_classification":
                             str(form.get("proposed_classification") or "")},
                       files={"signed_summary": (upload.filename, upload.file,
                                                 upload.content_type or "application/pdf")})
    except ApiError as exc:
        return await assessment_page(request, assessment["campaign_id"],
                                     assessment["unit_code"], me, error=exc,
                                     status_code=exc.status)
    return redirect(request, f"{_back(assessment)}?ok=submitted")


@router.post("/assessments/{assessment_id}/withdraw")
async def withdraw(request: Request, assessment_id: Id, me: Leader) -> Response:
    await posted_form(request)
    api = Api(request)
    assessment = await _by_id(api, assessment_id)
    try:
        await api.post(f"/assessments/{assessment_id}/withdraw")
    except ApiError as exc:
        return await assessment_page(request, assessment["campaign_id"],
                                     assessment["unit_code"], me, error=exc,
                                     status_code=exc.status)
    return redirect(request, f"{_back(assessment)}?ok=withdrawn")
