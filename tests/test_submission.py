"""Campaigns, self-assessment and the lock, over HTTP into the real system.

The evidence service's calls (attach_evidence) are made over RPC, as that service
will make them; everything else goes through the gateway.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from services.common.contracts import SUBMISSION
from tests.conftest import BOTH_BACKENDS
from tests.system import AMQP, System
from tests.system import rpc_call as system_rpc_call

VN = timezone(timedelta(hours=7))

SMALL = {
    "name": "Bộ tiêu chí thử cấp xã 2025", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 90, "label": "Xuất sắc"}, {"min": 80, "label": "Tốt"},
              {"min": 50, "label": "Trung bình"}, {"min": 0, "label": "Yếu"}],
    "nodes": [
        {"code": "1", "title": "Công tác chỉ đạo, điều hành CCHC", "max": 5, "children": [
            {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "max": 2,
             "rule": {"kind": "options", "options": [
                 {"label": "Đúng thời hạn", "score": 2}, {"label": "Chậm", "score": 1},
                 {"label": "Không ban hành", "score": 0}]},
             "evidence": "required"},
            {"code": "1.2", "title": "Tỷ lệ hoàn thành kế hoạch", "max": 3,
             "rule": {"kind": "ratio"}, "evidence": "optional"},
        ]},
        {"code": "2", "title": "Cải cách thủ tục hành chính", "max": 5, "children": [
            {"code": "2.1", "title": "Kiểm tra công tác CCHC", "max": 2,
             "rule": {"kind": "range", "step": 0.25}, "evidence": "none",
             "not_applicable_allowed": True},
            {"code": "2.2", "title": "Báo cáo định kỳ", "max": 3,
             "rule": {"kind": "deduction", "per_item": 0.5}, "evidence": "none"},
        ]},
    ],
}
RUSH_LEAVES = [f"{f}.{i}" for f in (1, 2) for i in range(1, 11)]
RUSH = {
    "name": "Bộ tiêu chí giờ chót 2025", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 0, "label": "Yếu"}],
    "nodes": [{"code": str(f), "title": f"Lĩnh vực {f}", "max": 10, "children": [
        {"code": f"{f}.{i}", "title": f"Tiêu chí {f}.{i}", "max": 1,
         "rule": {"kind": "range", "step": 0.25}, "evidence": "none"}
        for i in range(1, 11)]} for f in (1, 2)],
}


def rpc_call(service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    return system_rpc_call(AMQP, service, method, *args, **kwargs)


@pytest.fixture
def campaign(http: httpx.Client, admin_headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def create(units: list[str], catalog: dict[str, Any] = SMALL,
               locks_in: float = 3600.0) -> dict[str, Any]:
        created = http.post("/api/v1/catalogs", headers=admin_headers, json=catalog)
        assert created.status_code == 201, created.text
        catalog_id = created.json()["id"]
        # Given in Vietnam time, as people set them: stored as the same instants.
        now = datetime.now(VN)
        body = {"name": "Đánh giá CCHC 2025", "year": 2025, "catalog_id": catalog_id,
                "unit_codes": units,
                "windows": {"self_assessment": {
                    "opens_at": (now - timedelta(hours=1)).isoformat(),
                    "locks_at": (now + timedelta(seconds=locks_in)).isoformat()}}}
        response = http.post("/api/v1/campaigns", headers=admin_headers, json=body)
        assert response.status_code == 201, response.text
        cid = response.json()["id"]
        got = http.get(f"/api/v1/campaigns/{cid}", headers=admin_headers).json()
        return {"id": cid, "locks_at": got["windows"]["self_assessment"]["locks_at"],
                **{u["unit_code"]: u["assessment_id"] for u in got["units"]}}

    return create


def put(http: httpx.Client, aid: int, code: str, body: dict[str, Any],
        headers: dict[str, str], **extra: str) -> httpx.Response:
    return http.put(f"/api/v1/assessments/{aid}/entries/{code}", json=body,
                    headers={**headers, **extra})


def complete(http: httpx.Client, aid: int, code: str, headers: dict[str, str]) -> httpx.Response:
    return http.post(f"/api/v1/assessments/{aid}/entries/{code}/complete", headers=headers)


@BOTH_BACKENDS
def test_campaign_windows_are_shown_in_vietnam_time(http, admin_headers, unit, campaign,
                                                    make_user) -> None:
    c = campaign([unit()])
    got = http.get(f"/api/v1/campaigns/{c['id']}", headers=admin_headers).json()
    window = got["windows"]["self_assessment"]
    assert window["locks_at"].endswith("+07:00") and window["is_open"] is True
    # The window: given at 04:55+07:00 (and in UTC), shown at 04:55+07:00.
    catalog_id = http.post("/api/v1/catalogs", headers=admin_headers, json=SMALL).json()["id"]
    given = {"opens_at": "2026-12-03T04:55+07:00", "locks_at": "2026-12-05T10:00:00Z"}
    created = http.post("/api/v1/campaigns", headers=admin_headers, json={
        "name": "Đợt giờ Việt Nam", "year": 2026, "catalog_id": catalog_id,
        "unit_codes": [unit()], "windows": {"self_assessment": given}})
    assert created.status_code == 201, created.text
    shown = http.get(f"/api/v1/campaigns/{created.json()['id']}",
                     headers=admin_headers).json()["windows"]["self_assessment"]
    assert shown["opens_at"] == "2026-12-03T04:55:00+07:00"
    assert shown["locks_at"] == "2026-12-05T17:00:00+07:00"
    _, staff = make_user("unit_staff", unit_code="NOPE")
    assert http.post("/api/v1/campaigns", headers=staff, json={}).status_code == 403
    naive = {"name": "x", "year": 2025, "catalog_id": 1, "unit_codes": ["A"],
             "windows": {"self_assessment": {"opens_at": "2025-09-14T08:00:00",
                                             "locks_at": "2025-10-05T17:00:00"}}}
    assert http.post("/api/v1/campaigns", headers=admin_headers, json=naive).status_code == 422


def test_scope_other_unit_and_unassigned_are_403(http, unit, campaign, make_user) -> None:
    mine, other = unit(), unit()
    c = campaign([mine, other])
    _, leader = make_user("unit_leader", unit_code=mine)
    staff_name, staff = make_user("unit_staff", unit_code=mine)
    _, stranger = make_user("unit_leader", unit_code=other)
    _, viewer = make_user("viewer")
    aid = c[mine]
    assigned = http.put(f"/api/v1/assessments/{aid}/assignments", headers=leader,
                        json={"1": staff_name})
    assert assigned.status_code == 200, assigned.text
    assert sorted(a["code"] for a in assigned.json()["assigned"]) == ["1.1", "1.2"]
    assert put(http, aid, "1.2", {"done": 1, "planned": 2}, staff).status_code == 200
    refused = put(http, aid, "2.1", {"self_score": "1"}, staff)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_assigned")
    assert put(http, aid, "2.1", {"self_score": "1"}, leader).status_code == 200
    for response in (put(http, aid, "1.1", {"option": 0}, stranger),
                     http.get(f"/api/v1/campaigns/{c['id']}/assessments/{mine}",
                              headers=stranger),
                     http.get(f"/api/v1/assessments/{aid}/history", headers=stranger)):
        assert (response.status_code, response.json()["code"]) == (403, "forbidden_unit")
    assert put(http, aid, "1.1", {"option": 0}, viewer).status_code == 403
    assert http.put(f"/api/v1/assessments/{aid}/assignments", headers=staff,
                    json={"2": staff_name}).status_code == 403
    stranger_name = make_user("unit_staff", unit_code=other)[0]
    outsider = http.put(f"/api/v1/assessments/{aid}/assignments", headers=leader,
                        json={"2": stranger_name})
    assert (outsider.status_code, outsider.json()["code"]) == (422, "assignee_not_in_unit")
    mine_view = http.get(f"/api/v1/campaigns/{c['id']}/assessments/{mine}", headers=staff)
    assert mine_view.status_code == 200
    assignees = {e["code"]: e["assignee"] for e in mine_view.json()["entries"]}
    assert assignees == {"1.1": staff_name, "1.2": staff_name, "2.1": None, "2.2": None}


def test_every_rule_refusal_is_422_with_its_reason(http, unit, campaign, make_user) -> None:
    code = unit()
    aid = campaign([code])[code]
    _, leader = make_user("unit_leader", unit_code=code)
    cases = [("1.1", {"option": "Sớm"}, "score_rejected"),
             ("1.2", {"done": 1, "planned": 0}, "score_rejected"),
             ("2.1", {"self_score": "0.3"}, "score_rejected"),
             ("2.1", {"self_score": "2.25"}, "score_rejected"),
             ("2.2", {"count": -1}, "score_rejected"),
             ("2.2", {"not_applicable": True}, "not_applicable_not_allowed"),
             ("2.2", {"colour": "red"}, "invalid_input"),
             ("2.1", {"self_score": "abc"}, "invalid_input")]
    for criterion, body, reason in cases:
        response = put(http, aid, criterion, body, leader)
        assert response.status_code == 422, (criterion, body, response.text)
        assert response.json()["code"] == reason, (criterion, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert put(http, aid, "9.9", {"self_score": "1"}, leader).status_code == 404
    # Completion: explanation first, then the evidence the rule requires.
    missing = complete(http, aid, "1.1", leader)
    assert missing.status_code == 422
    assert missing.json()["reasons"] == ["score_missing", "explanation_missing",
                                         "evidence_missing"]
    put(http, aid, "1.1", {"option": "Chậm"}, leader)
    assert complete(http, aid, "1.1", leader).json()["code"] == "explanation_missing"
    put(http, aid, "1.1", {"explanation": "Kế hoạch 12/KH-UBND, mục II"}, leader)
    assert complete(http, aid, "1.1", leader).json()["code"] == "evidence_missing"
    rpc_call(SUBMISSION, "attach_evidence", aid, "1.1",
             {"id": "ev-1", "name": "1.1_so 12KH-UBND_KH CCHC 2025.pdf"},
             {"username": "evidence-service", "roles": ["unit_leader"],
              "unit_code": code})
    done = complete(http, aid, "1.1", leader)
    assert done.status_code == 200 and done.json()["status"] == "complete"


def test_stale_version_409_and_idempotent_retries(http, unit, campaign, make_user) -> None:
    code = unit()
    aid = campaign([code])[code]
    _, leader = make_user("unit_leader", unit_code=code)
    first = put(http, aid, "2.1", {"self_score": "1"}, leader, **{"If-Match": "1"})
    assert first.status_code == 200 and first.json()["version"] == 2
    assert first.headers["ETag"] == '"2"'
    stale = put(http, aid, "2.1", {"self_score": "1.5"}, leader, **{"If-Match": "1"})
    assert (stale.status_code, stale.json()["code"]) == (409, "stale_version")
    # nameko's exception transport turns the number into text.
    assert int(stale.json()["current_version"]) == 2
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    once = put(http, aid, "2.1", {"self_score": "1.75"}, leader, **key)
    twice = put(http, aid, "2.1", {"self_score": "1.75"}, leader, **key)
    assert once.status_code == twice.status_code == 200
    assert once.json() == twice.json() and once.json()["version"] == 3
    other = put(http, aid, "2.1", {"self_score": "0.5"}, leader, **key)
    assert (other.status_code, other.json()["code"]) == (422, "idempotency_key_reused")
    history = http.get(f"/api/v1/assessments/{aid}/history", headers=leader).json()
    assert [(h["before"]["score"], h["after"]["score"]) for h in history] == [
        (None, "1"), ("1", "1.75")]
    assert all(h["at"].endswith("+07:00") for h in history)


def test_totals_leave_not_applicable_criteria_out(http, unit, campaign, make_user) -> None:
    code = unit()
    aid = campaign([code])[code]
    _, leader = make_user("unit_leader", unit_code=code)
    put(http, aid, "1.1", {"option": "Đúng thời hạn"}, leader)
    put(http, aid, "1.2", {"done": 2, "planned": 3}, leader)
    put(http, aid, "2.1", {"self_score": "1.5"}, leader)
    saved = put(http, aid, "2.1", {"not_applicable": True}, leader)
    totals = saved.json()["totals"]
    assert (totals["total"], totals["max"], totals["index"]) == ("4", "8", "50.00")
    got = http.get(f"/api/v1/assessments/{aid}", headers=leader).json()
    assert (got["total"], got["max"], got["index"]) == ("4", "8", "50.00")
    assert got["classification"] == "Trung bình"


def _finish(http: httpx.Client, aid: int, unit_code: str, headers: dict[str, str]) -> None:
    inputs = {"1.1": {"option": "Đúng thời hạn"}, "1.2": {"done": 3, "planned": 3},
              "2.1": {"not_applicable": True}, "2.2": {"count": 1}}
    for code, body in inputs.items():
        response = put(http, aid, code, {**body, "explanation": f"Thuyết minh {code}"}, headers)
        assert response.status_code == 200, response.text
    rpc_call(SUBMISSION, "attach_evidence", aid, "1.1", {"id": 11, "name": "1.1_KH.pdf"},
             {"username": "evidence-service", "roles": ["unit_leader"],
              "unit_code": unit_code})
    for code in inputs:
        assert complete(http, aid, code, headers).status_code == 200


def test_only_the_leader_submits_and_then_the_unit_changes_nothing(
    http, unit, campaign, make_user, system, signed_summary
) -> None:
    code = unit()
    aid = campaign([code])[code]
    _, leader = make_user("unit_leader", unit_code=code)
    _, staff = make_user("unit_staff", unit_code=code)
    signed = {"signed_summary": ("bang-tong-hop-da-ky.pdf", b"%PDF-1.7\n% ky so\n",
                                 "application/pdf")}
    form = {"proposed_classification": "Tốt"}
    early = http.post(f"/api/v1/assessments/{aid}/submit", headers=leader, files=signed,
                      data=form)
    assert (early.status_code, early.json()["code"]) == (422, "assessment_incomplete")
    _finish(http, aid, code, leader)
    pdf = http.get(f"/api/v1/assessments/{aid}/summary.pdf", headers=leader)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    xlsx = http.get(f"/api/v1/assessments/{aid}/summary.xlsx", headers=leader)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert http.post(f"/api/v1/assessments/{aid}/submit", headers=staff, files=signed,
                     data=form).status_code == 403
    not_pdf = http.post(f"/api/v1/assessments/{aid}/submit", headers=leader,
                        files={"signed_summary": ("a.zip", b"PK\x03\x04", "application/zip")},
                        data=form)
    assert not_pdf.status_code == 415
    signed = {"signed_summary": signed_summary(aid, leader)}
    sent = http.post(f"/api/v1/assessments/{aid}/submit", headers=leader, files=signed,
                     data=form)
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert body["status"] == "submitted" and body["proposed_classification"] == "Tốt"
    assert (body["total"], body["max"]) == ("7.5", "8")
    assert len(body["signed_summary"]["sha256"]) == 64
    # Kept in the shared file store (the evidence's), where every gateway replica sees it.
    kept = Path(system.env["CCHC_DATA_DIR"]) / "evidence" / body["signed_summary"]["ref"]
    assert kept.read_bytes() == signed["signed_summary"][1]
    assert body["signed_summary"]["signature"]["state"] == "valid"
    after = put(http, aid, "2.2", {"count": 0}, leader)
    assert (after.status_code, after.json()["code"]) == (423, "assessment_submitted")
    assert complete(http, aid, "2.2", staff).status_code in (403, 423)
    # Before the lock the leader may take the sending back, edit, and send again.
    assert http.post(f"/api/v1/assessments/{aid}/withdraw", headers=staff).status_code == 403
    back = http.post(f"/api/v1/assessments/{aid}/withdraw", headers=leader)
    assert back.status_code == 200, back.text
    assert back.json()["status"] == "draft" and back.json()["signed_summary"] is None
    assert put(http, aid, "2.2", {"count": 2}, leader).status_code == 200
    again = http.post(f"/api/v1/assessments/{aid}/withdraw", headers=leader)
    assert (again.status_code, again.json()["code"]) == (409, "not_submitted")
    assert complete(http, aid, "2.2", leader).status_code == 200
    # The table changed: the copy signed before no longer binds; sign the new one.
    outdated = http.post(f"/api/v1/assessments/{aid}/submit", headers=leader, files=signed,
                         data=form)
    assert (outdated.status_code, outdated.json()["code"]) == (422, "signed_summary_outdated")
    signed = {"signed_summary": signed_summary(aid, leader)}
    resent = http.post(f"/api/v1/assessments/{aid}/submit", headers=leader, files=signed,
                       data=form)
    assert resent.status_code == 200, resent.text
    assert resent.json()["total"] == "7"
    actions = [c["action"] for c in http.get(f"/api/v1/assessments/{aid}/history",
                                             headers=leader).json()]
    assert actions.count("submit") == 2 and actions.count("withdraw") == 1


def _pdf(text_line: str) -> bytes:
    from io import BytesIO

    from reportlab.pdfgen import canvas

    out = BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text_line)
    page.save()
    return out.getvalue()


def upload(http: httpx.Client, aid: int, code: str, headers: dict[str, str]) -> httpx.Response:
    return http.post(f"/api/v1/assessments/{aid}/entries/{code}/evidence", headers=headers,
                     files={"file": ("ke-hoach.pdf", _pdf(f"Ke hoach {code}"),
                                     "application/pdf")},
                     data={"doc_number": "12/KH-UBND", "doc_date": "2025-01-05",
                           "title": "Kế hoạch CCHC năm 2025", "section": "Mục II"})


def test_evidence_uploaded_through_the_gateway_completes_an_entry_until_sent(
    http, unit, campaign, make_user, signed_summary
) -> None:
    code = unit()
    aid = campaign([code])[code]
    _, leader = make_user("unit_leader", unit_code=code)
    put(http, aid, "1.1", {"option": "Chậm", "explanation": "KH 12/KH-UBND, mục II"}, leader)
    assert complete(http, aid, "1.1", leader).json()["code"] == "evidence_missing"
    uploaded = upload(http, aid, "1.1", leader)
    assert uploaded.status_code == 201, uploaded.text
    entry = next(e for e in http.get(f"/api/v1/assessments/{aid}", headers=leader)
                 .json()["entries"] if e["code"] == "1.1")
    assert [e["id"] for e in entry["evidence"]] == [uploaded.json()["id"]]
    assert complete(http, aid, "1.1", leader).status_code == 200
    summary = http.get(f"/api/v1/assessments/{aid}/summary.xlsx", headers=leader)
    assert summary.status_code == 200
    _finish(http, aid, code, leader)
    sent = http.post(f"/api/v1/assessments/{aid}/submit", headers=leader,
                     files={"signed_summary": signed_summary(aid, leader)},
                     data={"proposed_classification": "Tốt"})
    assert sent.status_code == 200, sent.text
    late = upload(http, aid, "1.2", leader)
    assert (late.status_code, late.json()["code"]) == (423, "assessment_submitted")


@BOTH_BACKENDS
def test_a_window_locks_while_20_clients_keep_saving(
    http, current_system: System, unit, campaign, make_user
) -> None:
    code = unit()
    c = campaign([code], catalog=RUSH, locks_in=6.0)
    aid = c[code]
    _, leader = make_user("unit_leader", unit_code=code)
    locks_at = datetime.fromisoformat(c["locks_at"])
    stop_at = locks_at + timedelta(seconds=1.5)  # clients keep trying after the instant
    results: list[dict[str, Any]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        criterion = RUSH_LEAVES[n]
        seq = 0
        with httpx.Client(base_url=current_system.base_url, timeout=30,
                          headers=leader) as own:
            while datetime.now(UTC) < stop_at:
                seq += 1
                score = str(Decimal(seq % 4 + 1) / 4)
                note = f"client {n} save {seq}"
                sent = datetime.now(UTC)
                response = put(own, aid, criterion, {"self_score": score, "explanation": note},
                               {})
                with lock:
                    results.append({"code": criterion, "note": note, "score": score,
                                    "sent": sent, "status": response.status_code,
                                    "body": response.json()})

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = {r["status"] for r in results}
    # 503: past the gateway's calls in flight, refused before anything was sent.
    assert statuses <= {200, 423, 503}, statuses
    ok = [r for r in results if r["status"] == 200]
    locked = [r for r in results if r["status"] == 423]
    assert ok and locked, (len(ok), len(locked))
    assert all(r["body"]["code"] == "window_locked" for r in locked)
    assert all("Đã hết thời hạn" in r["body"]["detail"] for r in locked)
    assert all(r["body"]["code"] == "overloaded" for r in results if r["status"] == 503)
    # Every save sent after the instant was refused.
    assert all(r["status"] != 200 for r in results if r["sent"] >= locks_at)

    history = http.get(f"/api/v1/assessments/{aid}/history", headers=leader).json()
    by_note = {h["after"]["explanation"]: h for h in history}
    # Every 200 is in the database, as answered, and committed before the instant.
    assert len(history) == len(ok)
    for r in ok:
        change = by_note[r["note"]]
        assert change["after"]["version"] == r["body"]["version"]
        assert change["after"]["score"] == r["body"]["self_score"]
        assert datetime.fromisoformat(change["at"]) < locks_at
    # Nothing refused left a trace; each entry ends as its last accepted save.
    assert not any(r["note"] in by_note for r in results if r["status"] != 200)
    entries = {e["code"]: e for e in http.get(f"/api/v1/assessments/{aid}",
                                              headers=leader).json()["entries"]}
    for criterion in RUSH_LEAVES:
        mine = [r for r in ok if r["code"] == criterion]
        if mine:
            last = max(mine, key=lambda r: r["body"]["version"])
            assert entries[criterion]["explanation"] == last["note"]
            assert entries[criterion]["version"] == last["body"]["version"]
            assert entries[criterion]["self_score"] == last["score"].rstrip("0").rstrip(".")
    # window_locked is published once, after the instant.
    engine = create_engine(current_system.database_url("submission"))
    deadline = time.monotonic() + 10
    rows: list[Any] = []
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT payload, published_at FROM outbox WHERE event_type = 'window_locked' "
                "AND CAST(payload->>'campaign_id' AS INTEGER) = :cid"), {"cid": c["id"]}).all()
        if rows and rows[0].published_at is not None:
            break
        time.sleep(0.3)
    engine.dispose()
    assert len(rows) == 1 and rows[0].published_at is not None
