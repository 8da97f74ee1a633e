"""A commune's leader and staff in the browser: first sign-in, assignment, entries by
rule, evidence with its checks, completion, the summary, sending and withdrawing, and
the API's 422 / 409 / 423 shown in Vietnamese — against the real system."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from services.evidence.tests.pki import CA, plain_pdf, sign
from tests.browser.conftest import Tab, sign_in
from tests.conftest import EVIDENCE_TRUST_ROOTS, USER_PASSWORD
from tests.test_submission import SMALL

# The same small commune set as the API tests: options, ratio, steps and deductions.
SET = SMALL


@pytest.fixture(scope="module")
def ca() -> CA:
    ca = CA("CA thử nghiệm tỉnh (web)")
    ca.write_pem(EVIDENCE_TRUST_ROOTS, f"web-{uuid.uuid4().hex[:6]}.pem")
    return ca


def signed_pdf(pdf: bytes, ca: CA, signer: str) -> bytes:
    """pyhanko signs through asyncio.run: off Playwright's running loop, in a thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: sign(pdf, ca.signer(signer))).result()


def _issue(http: httpx.Client, admin: dict[str, str], role: str, unit: str,
           full_name: str) -> tuple[str, str]:
    username = f"{role.split('_')[1]}.{uuid.uuid4().hex[:6]}"
    created = http.post("/api/v1/users", headers=admin, json={
        "username": username, "full_name": full_name, "roles": [role], "unit_code": unit})
    assert created.status_code == 201, created.text
    return username, created.json()["initial_password"]


@pytest.fixture
def commune(http: httpx.Client, admin_headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """A unit in an open campaign, with a leader and a staff member not signed in yet."""

    def make(locks_in: timedelta = timedelta(hours=5)) -> dict[str, Any]:
        code = f"B-{uuid.uuid4().hex[:6]}"
        name = f"UBND xã Hương Vinh {code}"
        assert http.post("/api/v1/units", headers=admin_headers,
                         json=[{"code": code, "name": name, "type": "commune"}]).is_success
        catalog = http.post("/api/v1/catalogs", headers=admin_headers, json=SET).json()["id"]
        now = datetime.now(UTC)
        created = http.post("/api/v1/campaigns", headers=admin_headers, json={
            "name": f"Tự đánh giá CCHC 2025 {code}", "year": 2025, "catalog_id": catalog,
            "unit_codes": [code], "windows": {"self_assessment": {
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "locks_at": (now + locks_in).isoformat()}}})
        assert created.status_code == 201, created.text
        cid = created.json()["id"]
        aid = http.get(f"/api/v1/campaigns/{cid}",
                       headers=admin_headers).json()["units"][0]["assessment_id"]
        leader = _issue(http, admin_headers, "unit_leader", code, "Hồ Thị Thu")
        staff = _issue(http, admin_headers, "unit_staff", code, "Phan Văn Đức")
        return {"code": code, "name": name, "campaign": cid, "assessment": aid,
                "leader": leader, "staff": staff}

    return make


def first_sign_in(tab: Tab, username: str, issued: str) -> Page:
    """Sign in with the issued password: the only page open is the password change."""
    page = sign_in(tab, username, issued)
    assert page.url.endswith("/password")
    assert "mật khẩu được cấp" in page.locator(".notice.warn").inner_text()
    tab.page.goto(tab.base_url + "/")
    assert page.url.endswith("/password"), "an issued password opens no other page"
    tab.fill_form({"Mật khẩu hiện tại": issued, "Mật khẩu mới": USER_PASSWORD,
                   "Nhập lại mật khẩu mới": USER_PASSWORD})
    page.get_by_role("button", name="Đổi mật khẩu").click()
    assert "Đã đổi mật khẩu." in page.get_by_role("status").inner_text()
    return page


def open_entry(tab: Tab, unit: dict[str, Any], code: str) -> Page:
    return tab.go(f"/assessments/{unit['assessment']}/entries/{code}")


def test_leader_assigns_staff_enter_prove_and_complete_leader_sends(
    open_tab, commune, ca: CA, tmp_path, http: httpx.Client, admin_headers
) -> None:
    unit = commune()
    leader_name, leader_issued = unit["leader"]
    staff_name, staff_issued = unit["staff"]

    # The leader's first sign-in, then the assessment and the assignment.
    boss = open_tab()
    page = first_sign_in(boss, leader_name, leader_issued)
    boss.check("leader-home")
    page.get_by_role("link", name="Bản tự đánh giá của đơn vị").click()
    assert page.get_by_role("heading", level=1).inner_text() == unit["name"]
    expect(page.locator(".countdown .remaining")).to_contain_text(":")
    boss.check("leader-assessment-empty")
    page.get_by_role("link", name="Phân công tiêu chí").click()
    page.get_by_label("Người thực hiện 1", exact=True).select_option(staff_name)
    page.get_by_label("Người thực hiện 2.1", exact=True).select_option(staff_name)
    boss.check("leader-assign")
    page.get_by_role("button", name="Lưu phân công").click()
    assert "Đã phân công." in page.get_by_role("status").inner_text()
    expect(page.get_by_role("cell", name="Phan Văn Đức")).to_have_count(3)

    # Staff, on a phone: only their criteria, in the set's tree.
    clerk = open_tab(wide=False)
    page = first_sign_in(clerk, staff_name, staff_issued)
    page.get_by_role("link", name="Bản tự đánh giá của đơn vị").click()
    tree = page.locator("table.tree tbody")
    expect(tree.get_by_role("link")).to_have_count(3)
    assert tree.get_by_role("link").all_inner_texts() == [
        "Ban hành kế hoạch CCHC năm", "Tỷ lệ hoàn thành kế hoạch", "Kiểm tra công tác CCHC"]
    assert tree.get_by_text("Báo cáo định kỳ").count() == 0
    clerk.check("staff-my-criteria", phone=True)

    # 1.1, options: saved, then "complete" refused for the missing evidence.
    page.get_by_role("link", name="Ban hành kế hoạch CCHC năm").click()
    page.get_by_label("Đúng thời hạn — 2 điểm").check()
    page.get_by_label("Giải trình (nêu rõ văn bản, mục nào chứng minh điểm)").fill(
        "Kế hoạch số 30a/KH-SXD ngày 10/01/2025, mục I.")
    page.get_by_role("button", name="Lưu (Cập nhật)").click()
    assert "Đã lưu tiêu chí." in page.get_by_role("status").inner_text()
    assert page.locator(".badge").first.inner_text() == "Đã lưu"
    page.get_by_role("button", name="Hoàn thành").click()
    refused = clerk.alert()
    assert "tài liệu" in refused.lower() and " / " not in refused, refused
    clerk.check("staff-complete-refused", phone=True)

    # Evidence: a signed PDF with a letter-suffixed number; its checks and canonical name.
    signed = tmp_path / "ke-hoach.pdf"
    signed.write_bytes(signed_pdf(plain_pdf("Ke hoach CCHC 2025"), ca, "UBND xã Hương Vinh"))
    page.get_by_label("Tệp (PDF có chữ ký số, hoặc ảnh)").set_input_files(str(signed))
    clerk.fill_form({"Số văn bản": "30a/KH-SXD", "Trích yếu": "Kế hoạch CCHC năm 2025",
                     "Mục chứng minh": "Mục I"})
    page.get_by_label("Ngày văn bản").fill("2025-01-10")
    page.get_by_role("button", name="Tải lên").click()
    assert "Đã tải lên tài liệu kiểm chứng." in page.get_by_role("status").inner_text()
    evidence = page.locator("ul.evidence > li").first
    assert evidence.get_by_role("link").inner_text().startswith("1.1_so 30a")
    checks = evidence.locator(".checks").inner_text()
    assert "PDF" in checks and "Chữ ký số hợp lệ" in checks, checks
    assert "UBND xã Hương Vinh" in checks and "chữ cái sau số" in checks, checks
    clerk.check("staff-evidence-checks", phone=True)
    page.get_by_role("button", name="Hoàn thành").click()
    assert "Đã đánh dấu hoàn thành." in page.get_by_role("status").inner_text()
    assert page.locator(".badge").first.inner_text() == "Hoàn thành"

    # 2.1, a score in steps of 0,25: 0,3 is refused with the API's message, 0,75 kept.
    page = open_entry(clerk, unit, "2.1")
    assert page.get_by_label("Không phát sinh nhiệm vụ trong năm (không tính vào điểm tối đa)"
                             ).is_visible()
    field = page.get_by_label("Điểm tự chấm (0 đến 2, bước 0,25)")
    field.evaluate("el => el.setAttribute('step', 'any')")  # else the browser refuses it itself
    field.fill("0.3")
    page.get_by_role("button", name="Lưu (Cập nhật)").click()
    assert clerk.alert().strip(), "the API's 422 is shown"
    assert page.get_by_label("Điểm tự chấm (0 đến 2, bước 0,25)").input_value() == "0.3"
    clerk.check("staff-score-refused", phone=True)
    page.get_by_label("Điểm tự chấm (0 đến 2, bước 0,25)").fill("0.75")
    page.get_by_label("Giải trình (nêu rõ văn bản, mục nào chứng minh điểm)").fill(
        "Báo cáo kiểm tra số 12/BC-UBND, mục II.")
    page.get_by_role("button", name="Lưu (Cập nhật)").click()
    assert "0,75" in page.locator("main").inner_text()
    page.get_by_role("button", name="Hoàn thành").click()

    # 1.2, a ratio, open in two tabs: the second save is told someone saved first (409).
    page = open_entry(clerk, unit, "1.2")
    other = clerk.page.context.new_page()
    other.goto(page.url)
    page.get_by_label("Số đã thực hiện").fill("3")
    page.get_by_label("Số theo kế hoạch").fill("4")
    page.get_by_label("Giải trình (nêu rõ văn bản, mục nào chứng minh điểm)").fill(
        "Báo cáo số 25/BC-UBND, mục III: 3 trên 4 nhiệm vụ.")
    page.get_by_role("button", name="Lưu (Cập nhật)").click()
    assert "2,25" in page.locator("main").inner_text()
    other.get_by_label("Số đã thực hiện").fill("4")
    other.get_by_label("Số theo kế hoạch").fill("4")
    other.get_by_role("button", name="Lưu (Cập nhật)").click()
    assert other.get_by_role("alert").inner_text().strip()
    assert other.get_by_label("Số đã thực hiện").input_value() == "4", "what was typed stays"
    other.close()
    page.get_by_role("button", name="Hoàn thành").click()
    assert "Đã đánh dấu hoàn thành." in page.get_by_role("status").inner_text()

    # The leader: totals, index and band as they changed; 2.2 done by the leader.
    page = boss.go(f"/campaigns/{unit['campaign']}/units/{unit['code']}")
    totals = page.locator("#totals").inner_text()
    assert "5 / 10" in totals and "50%" in totals and "Trung bình" in totals, totals
    page = open_entry(boss, unit, "2.2")
    page.get_by_label("Số lần vi phạm (mỗi lần trừ 0,5 điểm)").fill("1")
    page.get_by_label("Giải trình (nêu rõ văn bản, mục nào chứng minh điểm)").fill(
        "Sổ theo dõi báo cáo, mục 2: một báo cáo chậm.")
    page.get_by_role("button", name="Lưu (Cập nhật)").click()
    page.get_by_role("button", name="Hoàn thành").click()
    page = boss.go(f"/campaigns/{unit['campaign']}/units/{unit['code']}")
    totals = page.locator("#totals").inner_text()
    assert "7,5 / 10" in totals and "75%" in totals, totals
    with page.expect_download() as pdf:
        page.get_by_role("link", name="Tải bảng tổng hợp (PDF)").click()
    summary = tmp_path / "bang-tong-hop.pdf"
    pdf.value.save_as(summary)
    assert summary.read_bytes().startswith(b"%PDF")
    with page.expect_download() as xlsx:
        page.get_by_role("link", name="Tải bảng tổng hợp (XLSX)").click()
    assert xlsx.value.suggested_filename.endswith(".xlsx")

    # Signed and sent; then withdrawn before the lock.
    signed_summary = tmp_path / "bang-tong-hop-da-ky.pdf"
    signed_summary.write_bytes(signed_pdf(summary.read_bytes(), ca, "Hồ Thị Thu"))
    page.get_by_label("Bảng tổng hợp đã ký số (PDF)").set_input_files(str(signed_summary))
    page.get_by_label("Đơn vị đề xuất xếp loại").select_option("Trung bình")
    boss.check("leader-before-sending")
    page.get_by_role("button", name="Gửi báo cáo").click()
    assert "Đã gửi báo cáo." in page.get_by_role("status").inner_text()
    assert "Đã gửi" in page.locator("#totals").inner_text()
    # People by their names: who sent, who does 1.1 (their sign-in names mean little).
    expect(page.get_by_text("bởi Hồ Thị Thu")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="1.1")).to_contain_text("Phan Văn Đức")
    boss.check("leader-sent", phone=True)
    # After sending, staff change nothing: the API's refusal shows on their page.
    page2 = open_entry(clerk, unit, "2.1")
    page2.get_by_role("button", name="Lưu (Cập nhật)").click()
    assert clerk.alert().strip()
    page.get_by_role("button", name="Rút báo cáo về để sửa").click()
    assert "Đã rút báo cáo về để chỉnh sửa." in page.get_by_role("status").inner_text()
    assert "Đang cập nhật" in page.locator("#totals").inner_text()


def test_after_the_lock_the_page_says_so(open_tab, commune, http: httpx.Client) -> None:
    unit = commune(locks_in=timedelta(seconds=25))
    leader_name, leader_issued = unit["leader"]
    boss = open_tab()
    first_sign_in(boss, leader_name, leader_issued)
    page = open_entry(boss, unit, "2.1")
    remaining = page.locator(".countdown .remaining")
    expect(remaining).to_contain_text("00:00:")
    expect(page.locator(".countdown")).to_have_class("countdown soon")
    expect(remaining).to_have_text("đã khoá", timeout=40_000)
    page.get_by_label("Điểm tự chấm (0 đến 2, bước 0,25)").fill("1")
    page.get_by_role("button", name="Lưu (Cập nhật)").click()
    locked = boss.alert()
    assert "khoá" in locked.lower() or "khóa" in locked.lower(), locked
    boss.check("leader-locked")


def test_a_form_without_its_token_changes_nothing(http: httpx.Client, commune) -> None:
    unit = commune()
    # The login form's token is the cookie's: without both, 403 and no session.
    response = http.post("/login", data={"username": "admin", "password": "x"})
    assert response.status_code == 403 and "Phiên làm việc" in response.text
    assert "cchc_access" not in response.headers.get("set-cookie", "")
    http.cookies.clear()
    page = http.get("/login")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    # Behind a TLS proxy the cookies are Secure.
    http.cookies.clear()
    behind = http.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in behind.headers["set-cookie"]
    # A signed-in session cannot be driven by another site's form either.
    leader, issued = unit["leader"]
    first = http.post("/api/v1/auth/login", json={"username": leader, "password": issued})
    assert http.post("/api/v1/auth/password", json={
        "old_password": issued, "new_password": USER_PASSWORD},
        headers={"Authorization": f"Bearer {first.json()['access_token']}"}).is_success
    token = page.cookies["cchc_csrf"]
    http.cookies.clear()
    signed = http.post("/login", data={"username": leader, "password": USER_PASSWORD,
                                       "csrf_token": token},
                       cookies={"cchc_csrf": token})
    assert signed.status_code == 303
    assert "HttpOnly" in signed.headers["set-cookie"] and "SameSite=lax" in signed.headers[
        "set-cookie"]
    session = {"cchc_access": signed.cookies["cchc_access"]}
    http.cookies.clear()
    forged = http.post(f"/assessments/{unit['assessment']}/withdraw", cookies=session)
    assert forged.status_code == 403 and "Phiên làm việc" in forged.text
    http.cookies.clear()
    got = http.get(f"/campaigns/{unit['campaign']}/units/{unit['code']}", cookies=session)
    assert got.status_code == 200 and "Đang cập nhật" in got.text
