"""The council and Sở Nội vụ in the browser, then everyone after publication: the
queue of a department, appraising with score, reason and return, comments, round 2
on the unit's page, survey points, finalize and publish, results, ranking, per-field
chart, a unit's trend, and the inbox with its preferences."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.conftest import USER_PASSWORD
from tests.test_appraisal_campaign import COMMUNE_SET

CITE = "Theo Kế hoạch số 25/KH-UBND, mục II"


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def _sent_commune(http: httpx.Client, admin: dict[str, str], make_user: Callable[..., Any],
                  signed_summary: Callable[..., Any], appraisal_seconds: float) -> dict[str, Any]:
    """A commune that has sent its self-assessment, and an appraisal window now open."""
    tag = uuid.uuid4().hex[:6]
    code = f"HD-{tag}"
    _ok(http.post("/api/v1/units", headers=admin, json=[
        {"code": code, "name": f"UBND xã Thủy Vân {tag}", "type": "commune"}]))
    leader_name, leader = make_user("unit_leader", unit_code=code, full_name="Trần Văn Lực")
    catalog = _ok(http.post("/api/v1/catalogs", headers=admin,
                            json={**COMMUNE_SET, "name": f"{COMMUNE_SET['name']} {tag}"}), 201)
    now = datetime.now(UTC)
    cid = _ok(http.post("/api/v1/campaigns", headers=admin, json={
        "name": f"Thẩm định CCHC 2025 ({tag})", "year": 2025, "catalog_id": catalog["id"],
        "unit_codes": [code], "windows": {"self_assessment": {
            "opens_at": (now - timedelta(minutes=5)).isoformat(),
            "locks_at": (now + timedelta(minutes=30)).isoformat()}}}), 201)["id"]
    aid = _ok(http.get(f"/api/v1/campaigns/{cid}", headers=admin))["units"][0]["assessment_id"]
    for entry, body in {"1.1": {"option": "Đúng thời hạn", "explanation": CITE},
                        "1.2": {"self_score": "2.75", "explanation": CITE},
                        "2.1": {"count": 1, "explanation": CITE}}.items():
        _ok(http.put(f"/api/v1/assessments/{aid}/entries/{entry}", json=body, headers=leader))
        _ok(http.post(f"/api/v1/assessments/{aid}/entries/{entry}/complete", headers=leader))
    _ok(http.post(f"/api/v1/assessments/{aid}/submit", headers=leader,
                  files={"signed_summary": signed_summary(aid, leader)},
                  data={"proposed_classification": "Tốt"}))
    locks = datetime.now(UTC) + timedelta(seconds=appraisal_seconds)
    _ok(http.post(f"/api/v1/campaigns/{cid}/windows", headers=admin, json={
        "kind": "appraisal", "opens_at": (datetime.now(UTC) - timedelta(seconds=1)).isoformat(),
        "locks_at": locks.isoformat()}), 201)
    return {"code": code, "campaign": cid, "assessment": aid, "leader": leader_name,
            "leader_headers": leader, "appraisal_locks": locks, "tag": tag}


def _wait_for_queue(http: httpx.Client, headers: dict[str, str], cid: int, n: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = http.get("/api/v1/appraisal/queue", headers=headers, params={"campaign": cid})
        if got.status_code == 200 and len(got.json()) >= n:
            return
        time.sleep(0.3)
    raise AssertionError("the sending did not reach the council's queue")


def test_council_appraises_returns_and_results_are_published(
    open_tab, http: httpx.Client, admin_headers, make_user, signed_summary
) -> None:
    # Set-up over the API, off Playwright's loop (pyhanko signs through asyncio.run).
    with ThreadPoolExecutor(1) as pool:
        unit = pool.submit(_sent_commune, http, admin_headers, make_user, signed_summary,
                           40).result()
        snv_name, snv = pool.submit(make_user, "appraiser", None, "SNV",
                                    "Lê Thị Thẩm Định").result()
        viewer_name, _ = pool.submit(make_user, "viewer", None, None, "Lãnh đạo tỉnh").result()
        _, stp = pool.submit(make_user, "appraiser", None, "STP", "Sở Tư pháp").result()
    _wait_for_queue(http, snv, unit["campaign"], 2)
    aid, cid = unit["assessment"], unit["campaign"]
    # The justice department's criterion, appraised over the API: this test is SNV's.
    _wait_for_queue(http, stp, cid, 1)
    _ok(http.put(f"/api/v1/assessments/{aid}/appraisal/2.1", headers=stp,
                 json={"round": 1, "score": "1.5"}))

    # The appraiser: the department's queue, a refusal shown, then a score and a return.
    council = open_tab()
    page = sign_in(council, snv_name, USER_PASSWORD)
    page.get_by_role("link", name="Thẩm định", exact=True).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Tiêu chí chờ thẩm định")
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(2)  # 1.1 and 1.2 are SNV's; 2.1 is the justice department's
    council.check("council-queue", phone=True)
    page.get_by_role("link", name="Ban hành kế hoạch CCHC năm").click()
    assert CITE in page.locator(".explanation").first.inner_text()
    page.get_by_label("Điểm thẩm định").fill("1")
    page.get_by_role("button", name="Lưu kết quả thẩm định").click()
    assert council.alert().strip(), "below the self-score without a reason: the API's 422"
    council.check("council-reason-required")
    page.get_by_label("Lý do (bắt buộc khi thấp hơn điểm tự chấm)").fill(
        "Kế hoạch ban hành sau thời hạn")
    page.get_by_label("Trả lại để đơn vị bổ sung (vòng 2)").check()
    page.get_by_role("button", name="Lưu kết quả thẩm định").click()
    assert "Đã lưu kết quả thẩm định." in page.get_by_role("status").inner_text()
    page.get_by_label("Ý kiến").fill("Đề nghị bổ sung Quyết định ban hành kế hoạch")
    page.get_by_role("button", name="Gửi ý kiến").click()
    expect(page.locator(".comments li")).to_have_count(1)
    council.check("council-appraised", phone=True)
    page.goto(f"{council.base_url}/assessments/{aid}/appraise/1.2")
    page.get_by_label("Điểm thẩm định").fill("2,75")
    page.get_by_role("button", name="Lưu kết quả thẩm định").click()
    assert "Đã lưu kết quả thẩm định." in page.get_by_role("status").inner_text()

    # Sở Nội vụ returns the flagged criterion once round 1 has locked.
    time.sleep(max(0.0, (unit["appraisal_locks"] - datetime.now(UTC)).total_seconds()) + 0.5)
    admin = open_tab()
    page = sign_in(admin, "admin", "Quan-tri-2026!")
    page = admin.go(f"/assessments/{aid}/council")
    expect(page.locator("tbody tr.state-returned")).to_have_count(1)
    admin.check("admin-council-view")
    page.get_by_role("button", name="Trả lại các tiêu chí cần bổ sung").click()
    assert "Đã trả lại" in page.get_by_role("status").inner_text()

    # The unit's leader: the red criterion with the council's reason, the inbox, round 2.
    now = datetime.now(UTC)
    _ok(http.post(f"/api/v1/campaigns/{cid}/windows", headers=admin_headers, json={
        "kind": "supplement", "opens_at": (now - timedelta(seconds=1)).isoformat(),
        "locks_at": (now + timedelta(minutes=20)).isoformat()}), 201)
    boss = open_tab(wide=False)
    page = sign_in(boss, unit["leader"], USER_PASSWORD)
    page = boss.go(f"/campaigns/{cid}/units/{unit['code']}")
    expect(page.locator("tr.state-returned")).to_have_count(1)
    page.get_by_role("link", name="Ban hành kế hoạch CCHC năm").click()
    returned = page.locator(".card.returned")
    expect(returned).to_contain_text("Kế hoạch ban hành sau thời hạn")
    expect(page.locator(".comments li")).to_have_count(1)
    page.get_by_label("Giải trình bổ sung vòng 2").fill(
        "Bổ sung Quyết định số 12/QĐ-UBND ngày 10/01/2025, Điều 1")
    page.get_by_label("Điểm đề nghị").fill("2")
    page.get_by_role("button", name="Lưu bổ sung").click()
    assert "Đã lưu nội dung bổ sung vòng 2." in page.get_by_role("status").inner_text()
    assert page.get_by_label("Giải trình bổ sung vòng 2").input_value().startswith(
        "Bổ sung Quyết định số 12/QĐ-UBND"), "what was saved is shown again"
    assert page.get_by_label("Điểm đề nghị").input_value() == "2"
    boss.check("leader-round-two", phone=True)
    # The round-2 report goes out signed, as the first did (over the API: signing a PDF).
    with ThreadPoolExecutor(1) as pool:
        signed = pool.submit(signed_summary, aid, unit["leader_headers"]).result()
    _ok(http.post(f"/api/v1/assessments/{aid}/submit", headers=unit["leader_headers"],
                  files={"signed_summary": signed}, data={"proposed_classification": "Tốt"}))

    # Round 2 of the council, in the final appraisal window, on the same page.
    now = datetime.now(UTC)
    _ok(http.post(f"/api/v1/campaigns/{cid}/windows", headers=admin_headers, json={
        "kind": "final_appraisal", "opens_at": (now - timedelta(seconds=1)).isoformat(),
        "locks_at": (now + timedelta(minutes=20)).isoformat()}), 201)
    deadline = time.monotonic() + 30
    page = council.go(f"/assessments/{aid}/appraise/1.1")
    while "Bổ sung Quyết định số 12/QĐ-UBND" not in page.locator("main").inner_text() \
            and time.monotonic() < deadline:
        time.sleep(0.5)  # the round-2 sending reaches appraisal over the bus
        page = council.go(f"/assessments/{aid}/appraise/1.1")
    expect(page.get_by_role("heading", name="Kết quả thẩm định vòng 2")).to_be_visible()
    assert "Bổ sung Quyết định số 12/QĐ-UBND" in page.locator("main").inner_text()
    page.get_by_label("Điểm thẩm định").fill("2")
    page.get_by_role("button", name="Lưu kết quả thẩm định").click()
    assert "Đã lưu kết quả thẩm định." in page.get_by_role("status").inner_text()
    council.check("council-round-two", phone=True)
    deadline = time.monotonic() + 30
    page = boss.go("/notifications")
    # The return reaches notify over the bus: the inbox shows it once it has arrived.
    while "Ban hành kế hoạch CCHC năm" not in page.locator("main").inner_text() \
            and time.monotonic() < deadline:
        time.sleep(0.5)
        page = boss.go("/notifications")
    expect(page.locator(".inbox")).to_contain_text("Ban hành kế hoạch CCHC năm")
    boss.check("leader-inbox", phone=True)
    page.get_by_role("button", name="Đánh dấu đã đọc").first.click()
    page.get_by_label("Zalo").uncheck()
    page.get_by_role("button", name="Lưu").click()
    assert "Đã lưu cách nhận thông báo." in page.get_by_role("status").inner_text()
    assert not page.get_by_label("Zalo").is_checked()

    # Sở Nội vụ: a bonus with its reason, survey points, finalize and publish; then the
    # viewer reads the results.
    page = admin.go(f"/assessments/{aid}/council")
    admin.fill_form({"Điểm thưởng": "0,5", "Lý do thưởng": "Sáng kiến CCHC được công nhận"})
    page.get_by_role("button", name="Lưu điểm thưởng, trừ").click()
    assert "Đã lưu điểm thưởng, điểm trừ." in page.get_by_role("status").inner_text()
    page = admin.go(f"/campaigns/{cid}/results")
    page.get_by_label(f"2.2 của UBND xã Thủy Vân {unit['tag']}").fill("2,5")
    page.get_by_role("button", name="Lưu điểm khảo sát").click()
    assert "Đã lưu điểm khảo sát." in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="Chốt kết quả tất cả đơn vị đã gửi").click()
    assert "Đã chốt kết quả." in page.get_by_role("status").inner_text()
    page.get_by_role("button", name="Công bố kết quả").click()
    assert "Đã công bố kết quả." in page.get_by_role("status").inner_text()
    admin.check("admin-results")
    reader = open_tab()
    page = sign_in(reader, viewer_name, USER_PASSWORD)
    page = reader.go(f"/campaigns/{cid}/results")
    expect(page.get_by_role("heading", name="Xếp hạng: Cấp xã")).to_be_visible()
    # 1.1 after round 2: 2; 1.2: 2,75; 2.1: 1,5; the survey's 2,5; the bonus 0,5:
    # 9,25 of 10, "Xuất sắc".
    first = page.locator("tbody tr").first
    expect(first).to_have_text(f"1UBND xã Thủy Vân {unit['tag']}9,25 / 1092,5%Xuất sắc")
    expect(page.locator(".chart rect.bar")).to_have_count(2)
    reader.check("viewer-results", phone=True)
    page.get_by_role("link", name=f"UBND xã Thủy Vân {unit['tag']}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(unit["code"])
    expect(page.locator("tbody tr")).to_have_count(1)
    reader.check("viewer-trend", phone=True)
