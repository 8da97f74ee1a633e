"""A whole campaign over HTTP, PostgreSQL and RabbitMQ: from the first council score to
the published ranking.

Two criteria sets (communes, departments), three units (two communes and one
department, the department assessed but not ranked), the councils of two
departments (SNV: Sở Nội vụ, STP: Sở Tư pháp), both rounds, a return, a late
supplement refused with 423, survey points, a bonus and a penalty. Windows are a few
seconds long and the test lives through them in real time. The published figures are
worked out by hand in the comments.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from openpyxl import load_workbook

COMMUNE_SET = {
    "name": "Bộ tiêu chí CCHC cấp xã 2025", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 90, "label": "Xuất sắc"}, {"min": 80, "label": "Tốt"},
              {"min": 65, "label": "Khá"}, {"min": 50, "label": "Trung bình"},
              {"min": 0, "label": "Yếu"}],
    "bonus_max": 2, "penalty_max": 1,
    "nodes": [
        {"code": "1", "title": "Công tác chỉ đạo, điều hành CCHC", "max": 5, "children": [
            {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "max": 2,
             "rule": {"kind": "options", "options": [
                 {"label": "Đúng thời hạn", "score": 2}, {"label": "Chậm", "score": 1},
                 {"label": "Không ban hành", "score": 0}]},
             "evidence": "none", "appraised_by": "SNV"},
            {"code": "1.2", "title": "Kiểm tra công tác CCHC", "max": 3,
             "rule": {"kind": "range", "step": 0.25}, "evidence": "optional",
             "appraised_by": "SNV"},
        ]},
        {"code": "2", "title": "Cải cách thể chế", "max": 5, "children": [
            {"code": "2.1", "title": "Rà soát văn bản quy phạm pháp luật", "max": 2,
             "rule": {"kind": "deduction", "per_item": 0.5}, "evidence": "none",
             "appraised_by": "STP", "not_applicable_allowed": True},
            {"code": "2.2", "title": "Mức độ hài lòng của người dân", "max": 3,
             "rule": {"kind": "survey"}, "evidence": "none"},
        ]},
    ],
}
DEPARTMENT_SET = {
    "name": "Bộ tiêu chí CCHC cấp sở 2025", "year": 2025, "unit_type": "department",
    "bands": [{"min": 90, "label": "A"}, {"min": 80, "label": "B"}, {"min": 50, "label": "C"},
              {"min": 0, "label": "D"}],
    "bonus_max": 1, "penalty_max": 1,
    "nodes": [
        {"code": "1", "title": "Chỉ đạo, điều hành và thể chế", "max": 6, "children": [
            {"code": "1.1", "title": "Kế hoạch CCHC của sở", "max": 4,
             "rule": {"kind": "options", "options": [
                 {"label": "Đúng thời hạn", "score": 4}, {"label": "Chậm", "score": 2},
                 {"label": "Không ban hành", "score": 0}]},
             "evidence": "none", "appraised_by": "SNV"},
            {"code": "1.2", "title": "Tỷ lệ văn bản được rà soát", "max": 2,
             "rule": {"kind": "ratio"}, "evidence": "none", "appraised_by": "STP"},
        ]},
        {"code": "2", "title": "Tác động của CCHC", "max": 4, "children": [
            {"code": "2.1", "title": "Mức độ hài lòng của doanh nghiệp", "max": 4,
             "rule": {"kind": "survey"}, "evidence": "none"},
        ]},
    ],
}


def now() -> datetime:
    return datetime.now(UTC)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.headers.get("content-type", "").startswith(
        "application/json") else response


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == code, body
    assert body["detail"], body


def test_a_whole_campaign_from_council_to_published_ranking(
    http: httpx.Client, admin_headers: dict[str, str],
    make_user: Callable[..., tuple[str, dict[str, str]]],
    signed_summary: Callable[..., tuple[str, bytes, str]],
) -> None:
    admin = admin_headers
    tag = uuid.uuid4().hex[:6]
    c1, c2, d1 = f"XA-{tag}-1", f"XA-{tag}-2", f"SO-{tag}"
    ok(http.post("/api/v1/units", headers=admin, json=[
        {"code": c1, "name": "UBND xã Hương Vinh", "type": "commune"},
        {"code": c2, "name": "UBND xã Hương Toàn", "type": "commune"},
        {"code": d1, "name": "Sở Tài nguyên và Môi trường", "type": "department"}]))
    leaders = {u: make_user("unit_leader", unit_code=u)[1] for u in (c1, c2, d1)}
    _, snv = make_user("appraiser", department_code="SNV", full_name="Thẩm định Sở Nội vụ")
    _, stp = make_user("appraiser", department_code="STP", full_name="Thẩm định Sở Tư pháp")
    _, viewer = make_user("viewer", full_name="Lãnh đạo UBND tỉnh")

    # --- Campaigns: self-assessment open now -----------------------------------------
    def campaign(catalog: dict[str, Any], units: list[str], **extra: Any) -> dict[str, Any]:
        catalog_id = ok(http.post("/api/v1/catalogs", headers=admin, json=catalog), 201)["id"]
        body = {"name": f"{catalog['name']} ({tag})", "year": 2025, "catalog_id": catalog_id,
                "unit_codes": units, **extra, "windows": {"self_assessment": {
                    "opens_at": (now() - timedelta(minutes=5)).isoformat(),
                    "locks_at": (now() + timedelta(minutes=10)).isoformat()}}}
        cid = ok(http.post("/api/v1/campaigns", headers=admin, json=body), 201)["id"]
        got = ok(http.get(f"/api/v1/campaigns/{cid}", headers=admin))
        return {"id": cid, **{u["unit_code"]: u["assessment_id"] for u in got["units"]}}

    communes = campaign(COMMUNE_SET, [c1, c2])
    departments = campaign(DEPARTMENT_SET, [d1], unranked_unit_codes=[d1])
    aid = {c1: communes[c1], c2: communes[c2], d1: departments[d1]}

    def send(unit: str, entries: dict[str, dict[str, Any]]) -> None:
        for code, body in entries.items():
            ok(http.put(f"/api/v1/assessments/{aid[unit]}/entries/{code}", json=body,
                        headers=leaders[unit]))
            ok(http.post(f"/api/v1/assessments/{aid[unit]}/entries/{code}/complete",
                         headers=leaders[unit]))
        ok(http.post(f"/api/v1/assessments/{aid[unit]}/submit", headers=leaders[unit],
                     files={"signed_summary": signed_summary(aid[unit], leaders[unit])},
                     data={"proposed_classification": "Tốt" if unit != d1
                                         else "B"}))

    cite = "Theo Kế hoạch số 25/KH-UBND, mục II"
    send(c1, {"1.1": {"option": "Đúng thời hạn", "explanation": cite},        # self 2
              "1.2": {"self_score": "2.75", "explanation": cite},             # self 2.75
              "2.1": {"count": 1, "explanation": cite}})                      # self 1.5
    send(c2, {"1.1": {"option": "Chậm", "explanation": cite},                 # self 1
              # No document, no section: the pre-send check proposes 0.
              "1.2": {"self_score": "3", "explanation": "Đơn vị đã thực hiện tốt"},
              "2.1": {"not_applicable": True, "explanation": "Không ban hành văn bản QPPL"}})
    send(d1, {"1.1": {"option": "Đúng thời hạn", "explanation": cite},        # self 4
              "1.2": {"done": 3, "planned": 4, "explanation": cite}})         # 2 × 3/4 = 1.5

    # --- Round 1 in the appraisal window ---------------------------------------------
    def add_window(cid: int, kind: str, seconds: float) -> datetime:
        locks = now() + timedelta(seconds=seconds)
        ok(http.post(f"/api/v1/campaigns/{cid}/windows", headers=admin, json={
            "kind": kind, "opens_at": (now() - timedelta(seconds=1)).isoformat(),
            "locks_at": locks.isoformat()}), 201)
        return locks

    def notice(headers: dict[str, str], kind: str) -> dict[str, Any]:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            mine = [n for n in ok(http.get("/api/v1/notifications", headers=headers))
                    if n["kind"] == kind]
            if mine:
                return mine[0]
            time.sleep(0.3)
        raise AssertionError(f"no {kind} notification")

    def wait_until(moment: datetime) -> None:
        time.sleep(max(0.0, (moment - now()).total_seconds()) + 0.3)

    def queue(headers: dict[str, str], cid: int, expected: int, **params: str) -> list[dict]:
        deadline = time.monotonic() + 30
        while True:
            got = ok(http.get("/api/v1/appraisal/queue", headers=headers,
                              params={"campaign": cid, **params}))
            if len(got) >= expected or time.monotonic() > deadline:
                return got
            time.sleep(0.2)

    def appraise(headers: dict[str, str], unit: str, code: str, **body: Any) -> httpx.Response:
        return http.put(f"/api/v1/assessments/{aid[unit]}/appraisal/{code}", headers=headers,
                        json=body)

    round1_locks = max(add_window(communes["id"], "appraisal", 25),
                       add_window(departments["id"], "appraisal", 25))
    snv_queue = queue(snv, communes["id"], 4)
    assert [(q["unit_code"], q["code"]) for q in snv_queue] == [
        (c1, "1.1"), (c1, "1.2"), (c2, "1.1"), (c2, "1.2")]
    no_citation = snv_queue[3]
    assert no_citation["predicted_score"] == "0"
    assert [p["problem"] for p in no_citation["problems"]] == ["explanation_no_citation"]
    assert [q["code"] for q in queue(stp, communes["id"], 2)] == ["2.1", "2.1"]
    refused(appraise(stp, c1, "1.1", round=1, score=1, reason="x"), 403, "other_department")
    refused(appraise(snv, c1, "1.1", round=1, score="1.5", reason="x"), 422, "score_rejected")
    refused(appraise(snv, c1, "1.1", round=1, score=1), 422, "reason_required")
    ok(appraise(snv, c1, "1.1", round=1, score=1, needs_supplement=True,
                reason="Kế hoạch ban hành sau thời hạn"))
    ok(appraise(snv, c1, "1.2", round=1, score="2.75"))
    ok(appraise(snv, c2, "1.1", round=1, score=1))
    ok(appraise(snv, c2, "1.2", round=1, score=0, needs_supplement=True,
                reason=no_citation["problems"][0]["detail"]))
    ok(appraise(stp, c1, "2.1", round=1, score=1, reason="Còn một văn bản chưa rà soát"))
    queue(snv, departments["id"], 1)
    ok(appraise(snv, d1, "1.1", round=1, score=4))
    ok(appraise(stp, d1, "1.2", round=1, score="1.5"))
    ok(http.post(f"/api/v1/assessments/{aid[c1]}/entries/1.1/comments", headers=snv,
                 json={"text": "Đề nghị bổ sung Quyết định ban hành kế hoạch"}), 201)
    ok(http.post(f"/api/v1/assessments/{aid[c1]}/entries/1.1/comments", headers=leaders[c1],
                 json={"text": "Đơn vị sẽ bổ sung trong vòng 2"}), 201)
    thread = ok(http.get(f"/api/v1/assessments/{aid[c1]}/entries/1.1/comments",
                         headers=admin))
    assert [m["side"] for m in thread] == ["council", "unit"]
    refused(http.get(f"/api/v1/assessments/{aid[c1]}/entries/1.1/comments",
                     headers=leaders[c2]), 403, "forbidden_comment")
    wait_until(round1_locks)
    refused(appraise(snv, c2, "1.1", round=1, score=0, reason="muộn"), 423, "window_locked")

    # --- Return, round 2 in the supplement window ---------------------------------
    refused(http.post(f"/api/v1/assessments/{aid[c1]}/return", headers=snv), 403,
            "forbidden_role")
    back = ok(http.post(f"/api/v1/assessments/{aid[c1]}/return", headers=admin))
    assert back["items"] == [{"code": "1.1", "title": "Ban hành kế hoạch CCHC năm",
                              "reason": "Kế hoạch ban hành sau thời hạn"}]
    ok(http.post(f"/api/v1/assessments/{aid[c2]}/return", headers=admin))
    refused(http.post(f"/api/v1/assessments/{aid[d1]}/return", headers=admin), 409,
            "nothing_flagged")
    seen = ok(http.get(f"/api/v1/assessments/{aid[c1]}/appraisal", headers=leaders[c1]))
    assert [(e["code"], e["red"], e["reason"]) for e in seen["entries"]] == [
        ("1.1", True, "Kế hoạch ban hành sau thời hạn")]
    # The leader hears of it (notify consumes criteria_returned), with the reason.
    returned_notice = notice(leaders[c1], "criteria_returned")
    assert "Kế hoạch ban hành sau thời hạn" in returned_notice["body"]
    unit_view = ok(http.get(f"/api/v1/campaigns/{communes['id']}/assessments/{c1}",
                            headers=leaders[c1]))
    assert [e["code"] for e in unit_view["entries"] if e["returned"]] == ["1.1"]
    supplement_locks = add_window(communes["id"], "supplement", 8)

    def supplement(code: str, **body: Any) -> httpx.Response:
        return http.put(f"/api/v1/assessments/{aid[c1]}/entries/{code}/supplement",
                        headers=leaders[c1], json=body)

    refused(supplement("1.2", explanation="x", proposed_score=3), 423, "not_returned")
    ok(supplement("1.1", explanation="Bổ sung Quyết định số 12/QĐ-UBND ngày 10/01/2025, "
                  "Điều 1", proposed_score="2"))
    refused(http.put(f"/api/v1/assessments/{aid[c1]}/entries/1.2",
                     json={"self_score": "3"}, headers=leaders[c1]), 423, "not_returned")
    # The second sending carries the round-2 report, signed as the first was.
    ok(http.post(f"/api/v1/assessments/{aid[c1]}/submit", headers=leaders[c1],
                 files={"signed_summary": signed_summary(aid[c1], leaders[c1])},
                 data={"proposed_classification": "Tốt"}))
    wait_until(supplement_locks)
    # Xã 2 let the window pass: its late supplement is refused, its round-1 scores stand.
    late = http.put(f"/api/v1/assessments/{aid[c2]}/entries/1.2/supplement",
                    headers=leaders[c2], json={"explanation": "Nộp muộn", "proposed_score": 3})
    refused(late, 423, "window_locked")
    refused(supplement("1.1", explanation="Sửa sau khi gửi", proposed_score="2"), 423,
            "assessment_submitted")

    # --- Round 2 in the final appraisal window ------------------------------------
    final_locks = add_window(communes["id"], "final_appraisal", 8)
    [returned] = queue(snv, communes["id"], 1, status="returned", unit=c1)
    deadline = time.monotonic() + 20
    while returned["round2"]["proposed_score"] is None and time.monotonic() < deadline:
        time.sleep(0.2)  # the round-2 sending reaches appraisal through the bus
        [returned] = queue(snv, communes["id"], 1, status="returned", unit=c1)
    assert returned["round2"]["proposed_score"] == "2"
    refused(appraise(snv, c1, "1.2", round=2, score=3), 409, "not_returned")
    ok(appraise(snv, c1, "1.1", round=2, score=2))
    wait_until(final_locks)
    refused(appraise(snv, c1, "1.1", round=2, score=1, reason="muộn"), 423, "window_locked")

    # --- Survey points, bonus and penalty, final results ------------------------------
    refused(http.put(f"/api/v1/campaigns/{communes['id']}/survey", headers=admin,
                     json={c1: {"1.2": 2}}), 422, "not_survey")
    ok(http.put(f"/api/v1/campaigns/{communes['id']}/survey", headers=admin,
                json={c1: {"2.2": "2.5"}, c2: {"2.2": "2.25"}}))
    ok(http.put(f"/api/v1/campaigns/{departments['id']}/survey", headers=admin,
                json={d1: {"2.1": "3.5"}}))
    refused(http.put(f"/api/v1/assessments/{aid[c2]}/adjustments", headers=admin,
                     json=[{"kind": "bonus", "points": "2.5", "reason": "Mô hình hay"}]),
            422, "adjustment_over_cap")
    ok(http.put(f"/api/v1/assessments/{aid[c2]}/adjustments", headers=admin,
                json=[{"kind": "bonus", "points": "1.5",
                       "reason": "Mô hình một cửa liên thông được tỉnh công nhận"}]))
    ok(http.put(f"/api/v1/assessments/{aid[d1]}/adjustments", headers=admin,
                json=[{"kind": "penalty", "points": "0.5", "reason": "Báo cáo quý chậm"}]))
    refused(http.post(f"/api/v1/campaigns/{communes['id']}/publish", headers=admin), 409,
            "not_finalized")
    assert ok(http.post(f"/api/v1/campaigns/{communes['id']}/finalize",
                        headers=admin))["finalized"] == 2
    ok(http.post(f"/api/v1/assessments/{aid[d1]}/finalize", headers=admin))

    # Before publication: admin and council only.
    results_url = f"/api/v1/campaigns/{communes['id']}/results"
    for outsider in (leaders[c1], viewer):
        refused(http.get(results_url, headers=outsider), 403, "results_not_published")
    assert len(ok(http.get(results_url, headers=snv))) == 2
    ok(http.post(f"/api/v1/campaigns/{communes['id']}/publish", headers=admin))
    ok(http.post(f"/api/v1/campaigns/{departments['id']}/publish", headers=admin))

    # --- What the leaders were told (notify): the returns with reasons, the results --
    def notices(headers: dict[str, str], kind: str) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 20
        while True:
            got = [n for n in ok(http.get("/api/v1/notifications", headers=headers))
                   if n["kind"] == kind]
            if got or time.monotonic() > deadline:
                return got
            time.sleep(0.2)

    [told] = notices(leaders[c1], "criteria_returned")
    assert "- 1.1: Ban hành kế hoạch CCHC năm" in told["body"]
    assert "Lý do: Kế hoạch ban hành sau thời hạn" in told["body"]
    for unit in (c1, c2, d1):
        [published_notice] = notices(leaders[unit], "results_published")
        assert f"({tag})" in published_notice["title"]

    # --- The published figures, by hand -----------------------------------------
    # Xã 1: 1.1 round 2 = 2, 1.2 = 2.75, 2.1 = 1, 2.2 survey = 2.5: total 8.25 of 10,
    #       index 8.25 / 10 × 100 = 82.50 -> Tốt (≥ 80).
    # Xã 2: 1.1 = 1, 1.2 = 0 (returned, no supplement in time: round 1 stands),
    #       2.1 not applicable (out of total and max), 2.2 survey = 2.25:
    #       3.25 + bonus 1.5 = 4.75 of 2 + 3 + 3 = 8, index 59.375 -> 59.38 -> Trung bình.
    # Communes ranked: xã 1 (82.50) first, xã 2 (59.38) second.
    # Sở: 1.1 = 4, 1.2 = 1.5, 2.1 survey = 3.5: 9 - penalty 0.5 = 8.5 of 10, index 85.00
    #     -> B; assessed but not ranked.
    assert notice(leaders[c2], "results_published")
    published = ok(http.get(results_url, headers=leaders[c2]))
    assert [(r["unit_code"], r["unit_type"], r["total"], r["max"], r["index"],
             r["classification"], r["rank"]) for r in published] == [
        (c1, "commune", "8.25", "10", "82.5", "Tốt", 1),
        (c2, "commune", "4.75", "8", "59.38", "Trung bình", 2)]
    [dept] = ok(http.get(f"/api/v1/campaigns/{departments['id']}/results", headers=viewer))
    assert (dept["unit_code"], dept["total"], dept["max"], dept["index"],
            dept["classification"], dept["rank"]) == (d1, "8.5", "10", "85", "B", None)
    refused(http.put(f"/api/v1/assessments/{aid[c2]}/adjustments", headers=admin,
                     json=[]), 409, "results_published")

    sheet = load_workbook(io.BytesIO(ok(http.get(f"{results_url}.xlsx",
                                                 headers=viewer)).content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][:3] == (1, c1, "UBND xã Hương Vinh") and float(rows[2][6]) == 82.5
    pdf = ok(http.get(f"{results_url}.pdf", headers=viewer)).content
    assert pdf.startswith(b"%PDF-")

    # --- Reports, trend, deductions ------------------------------------------------
    report = ok(http.get(f"/api/v1/campaigns/{communes['id']}/reports/criteria",
                         headers=viewer))
    line = {r["code"]: r for r in report["rows"]}
    # 1.2 over the communes: 2.75 and 0 -> mean 1.375 -> 1.38, min 0, max 2.75.
    assert (line["1.2"]["mean"], line["1.2"]["min"], line["1.2"]["max_score"]) == (
        "1.38", "0", "2.75")
    assert line["1.1"]["returned_units"] == 1 and line["1.1"]["full_score_units"] == 1
    report_xlsx = ok(http.get(f"/api/v1/campaigns/{communes['id']}/reports/criteria.xlsx",
                              headers=admin))
    assert report_xlsx.content[:2] == b"PK"
    trend = ok(http.get(f"/api/v1/units/{c1}/trend", headers=leaders[c1]))
    assert [(y["year"], y["index"], [f["score"] for f in y["fields"]])
            for y in trend["years"]] == [(2025, "82.5", ["4.75", "3.5"])]
    refused(http.get(f"/api/v1/units/{c1}/trend", headers=leaders[c2]), 403, "forbidden_unit")
    # Deducted after round 1: 1.1 (2 -> 1, back to 2 in round 2) and 2.1 (1.5 -> 1).
    table = ok(http.get(f"/api/v1/assessments/{aid[c1]}/deductions", headers=leaders[c1]))
    assert [(r["code"], r["self_score"], r["round1_score"], r["proposed_score"],
             r["final_score"]) for r in table["rows"]] == [
        ("1.1", "2", "1", "2", "2"), ("2.1", "1.5", "1", None, "1")]
    assert "12/QĐ-UBND" in table["rows"][0]["round2_explanation"]
    assert table["totals"]["self_score"] == "3.5" and table["totals"]["final_score"] == "3"
    for ext, magic in (("xlsx", b"PK"), ("pdf", b"%PDF-")):
        got = ok(http.get(f"/api/v1/assessments/{aid[c1]}/deductions.{ext}", headers=admin))
        assert got.content.startswith(magic)
    refused(http.get(f"/api/v1/assessments/{aid[c1]}/deductions", headers=leaders[c2]),
            403, "forbidden_unit")
    history = ok(http.get(f"/api/v1/assessments/{aid[c1]}/appraisal-history", headers=admin))
    actions = [h["action"] for h in history]
    assert actions.count("appraise_round1") == 3 and "return" in actions
    assert "appraise_round2" in actions and actions[-1] == "finalize"
