"""Sở Nội vụ in the browser: units, accounts (one and a list), criteria sets, campaigns,
windows and the progress dashboard, against the real system."""

from __future__ import annotations

import io
import uuid
from datetime import datetime, timedelta

import httpx
import yaml
from openpyxl import Workbook
from playwright.sync_api import expect

from gateway.web.render import VIETNAM
from tests.browser.conftest import sign_in
from tests.conftest import ADMIN_PASSWORD

GOOD_SET = {
    "name": "Bộ tiêu chí cấp xã thử trên web", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 90, "label": "Xuất sắc"}, {"min": 50, "label": "Trung bình"},
              {"min": 0, "label": "Yếu"}],
    "nodes": [{"code": "1", "title": "Công tác chỉ đạo, điều hành CCHC", "max": 4, "children": [
        {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "max": 2,
         "rule": {"kind": "options", "options": [{"label": "Đúng thời hạn", "score": 2},
                                                  {"label": "Chậm", "score": 1}]}},
        {"code": "1.2", "title": "Kiểm tra công tác CCHC", "max": 2,
         "rule": {"kind": "range", "step": 0.25}, "evidence": "none"}]}],
}
# Two problems at once: a duplicate code and children that do not add up to the field.
BAD_SET = {**GOOD_SET, "nodes": [{"code": "1", "title": "Lĩnh vực", "max": 5, "children": [
    {"code": "1.1", "title": "A", "max": 2, "rule": {"kind": "range", "step": 0.5}},
    {"code": "1.1", "title": "B", "max": 2, "rule": {"kind": "range", "step": 0.5}}]}]}


def _vn_local(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).strftime("%Y-%m-%dT%H:%M")


def _account_list(unit_code: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["Tên đăng nhập", "Họ và tên", "Email", "Vai trò", "Mã đơn vị"])
    tag = uuid.uuid4().hex[:6]
    sheet.append([f"lan.{tag}", "Nguyễn Thị Lan", "lan@example.vn", "unit_staff", unit_code])
    sheet.append([f"minh.{tag}", "Trần Văn Minh", None, "unit_staff", unit_code])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_admin_sets_up_a_campaign_in_the_browser(open_tab, tmp_path, http: httpx.Client,
                                                 admin_headers) -> None:
    tab = open_tab()
    page = sign_in(tab, "admin", ADMIN_PASSWORD)
    assert page.get_by_role("heading", level=1).inner_text().startswith("Xin chào")
    tab.check("admin-home")

    # A unit, typed in.
    code = f"W-{uuid.uuid4().hex[:6]}"
    tab.go("/admin/units")
    page.get_by_text("Thêm hoặc sửa một đơn vị").click()
    tab.fill_form({"Mã đơn vị": code, "Tên đơn vị": f"UBND xã Phú Mậu {code}"})
    page.get_by_label("Loại").select_option("commune")
    page.get_by_role("button", name="Lưu đơn vị").click()
    assert "Đã lưu đơn vị." in page.get_by_role("status").inner_text()
    assert page.get_by_role("cell", name=code, exact=True).is_visible()
    tab.check("admin-units", phone=True)

    # One account: its password is shown once, on the answer page only.
    tab.go("/admin/accounts")
    page.get_by_text("Cấp một tài khoản").click()
    leader = f"lanhdao.{uuid.uuid4().hex[:6]}"
    tab.fill_form({"Tên đăng nhập": leader, "Họ và tên": "Lê Văn Hùng"})
    page.get_by_label("Lãnh đạo đơn vị").check()
    page.get_by_label("Đơn vị", exact=True).select_option(code)
    page.get_by_role("button", name="Cấp tài khoản").click()
    issued = page.locator("code.password")
    expect(issued).to_have_count(1)
    assert len(issued.inner_text()) >= 8
    tab.check("admin-account-issued")
    tab.go("/admin/accounts")
    expect(page.locator("code.password")).to_have_count(0)

    # A list of accounts from XLSX.
    listing = tmp_path / "danh-sach.xlsx"
    listing.write_bytes(_account_list(code))
    page.get_by_text("Cấp nhiều tài khoản từ danh sách XLSX").click()
    page.get_by_label("Tệp danh sách (.xlsx)").set_input_files(str(listing))
    page.get_by_role("button", name="Cấp các tài khoản").click()
    expect(page.locator("code.password")).to_have_count(2)
    tab.check("admin-accounts-list-issued", phone=True)

    # A criteria set with two problems: both listed; then a good one, its tree, its export.
    bad = tmp_path / "sai.yaml"
    bad.write_text(yaml.safe_dump(BAD_SET, allow_unicode=True), encoding="utf-8")
    tab.go("/catalogs")
    page.get_by_label("Tệp YAML, JSON hoặc XLSX").set_input_files(str(bad))
    page.get_by_role("button", name="Nhập").click()
    problems = page.get_by_role("alert").locator("li")
    expect(problems.first).to_be_visible()
    assert problems.count() >= 2, tab.alert()
    tab.check("admin-catalog-problems")
    good = tmp_path / "dung.yaml"
    good.write_text(yaml.safe_dump(GOOD_SET, allow_unicode=True), encoding="utf-8")
    page.get_by_label("Tệp YAML, JSON hoặc XLSX").set_input_files(str(good))
    page.get_by_role("button", name="Nhập").click()
    assert page.get_by_role("heading", level=1).inner_text() == GOOD_SET["name"]
    assert page.get_by_role("cell", name="Ban hành kế hoạch CCHC năm").is_visible()
    assert page.get_by_role("cell", name="Điểm theo bước (0,25)").is_visible()
    tab.check("admin-catalog-tree", phone=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Xuất XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    # A campaign for the unit, its window in Vietnam time, then a later window.
    tab.go("/admin/campaigns")
    page.get_by_text("Tạo đợt đánh giá").click()
    now = datetime.now(VIETNAM).replace(second=0, microsecond=0)
    locks = now + timedelta(days=2, hours=3)
    tab.fill_form({"Tên đợt": "Đánh giá CCHC cấp xã 2025 (web)", "Năm": "2025",
                   "Tự đánh giá mở lúc (giờ Việt Nam)": _vn_local(now - timedelta(hours=1)),
                   "Khoá lúc (giờ Việt Nam)": _vn_local(locks)})
    page.get_by_label("Bộ tiêu chí").select_option(label=f"{GOOD_SET['name']} (2025, phiên bản 1)")
    page.get_by_role("group", name="Đơn vị tham gia").get_by_label(
        f"UBND xã Phú Mậu {code} ({code})").check()
    tab.fill_form({"Ngày chốt số liệu": "2025-11-20"})
    page.get_by_role("button", name="Tạo đợt").click()
    assert "Đã tạo đợt đánh giá." in page.get_by_role("status").inner_text()
    assert page.get_by_role("cell", name=locks.strftime("%d/%m/%Y %H:%M")).is_visible()
    expect(page.locator(".countdown .remaining")).to_contain_text("2 ngày 0")
    tab.check("admin-campaign", phone=True)
    campaign_url = page.url

    page.get_by_text("Mở thêm thời hạn (vòng sau)").click()
    page.get_by_label("Giai đoạn").select_option("supplement")
    later = now + timedelta(days=20)
    tab.fill_form({"Mở lúc (giờ Việt Nam)": _vn_local(later),
                   "Khoá lúc (giờ Việt Nam)": _vn_local(later + timedelta(days=5))})
    page.get_by_role("button", name="Mở thời hạn").click()
    assert page.get_by_role("cell", name="Bổ sung (vòng 2)").is_visible()
    # The same window twice: the API's 409 in Vietnamese beside the form.
    page.get_by_text("Mở thêm thời hạn (vòng sau)").click()
    page.get_by_label("Giai đoạn").select_option("supplement")
    tab.fill_form({"Mở lúc (giờ Việt Nam)": _vn_local(later),
                   "Khoá lúc (giờ Việt Nam)": _vn_local(later + timedelta(days=5))})
    page.get_by_role("button", name="Mở thời hạn").click()
    assert "đã có" in tab.alert()

    # The progress dashboard, with its chart.
    page.goto(campaign_url)
    page.get_by_role("link", name="Bảng tiến độ").click()
    expect(page.locator(".chart rect.bar")).to_have_count(1)
    assert page.get_by_role("cell", name="0 / 2").is_visible()
    tab.check("admin-progress", phone=True)
