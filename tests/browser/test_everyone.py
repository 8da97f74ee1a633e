"""What everyone meets: the sign-in page at /, the API's docs offline, a viewer's
progress dashboard, a page their role does not open, and signing out."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.conftest import USER_PASSWORD
from tests.test_submission import campaign  # noqa: F401 - a fixture


def test_the_address_make_run_prints_opens_the_sign_in_page(open_tab) -> None:
    tab = open_tab(wide=False)
    page = tab.go("/")
    assert page.url.endswith("/login?next=/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    tab.check("login", phone=True)
    tab.fill_form({"Tên đăng nhập": "admin", "Mật khẩu": "sai-mat-khau"})
    page.get_by_role("button", name="Đăng nhập").click()
    assert tab.alert().strip() == "Sai tên đăng nhập hoặc mật khẩu"
    assert page.get_by_label("Tên đăng nhập", exact=True).input_value() == "admin"
    tab.check("login-refused")


def test_signing_in_with_the_keyboard_only(open_tab, make_user) -> None:
    username, _ = make_user("unit_staff", unit_code="KB-1", full_name="Võ Thị Phím")
    tab = open_tab()
    page = tab.go("/login")
    # The sign-in page puts the cursor in its first field.
    expect(page.get_by_label("Tên đăng nhập", exact=True)).to_be_focused()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Mật khẩu", exact=True)).to_be_focused()
    page.keyboard.type(USER_PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Xin chào, Võ Thị Phím")
    page.keyboard.press("Tab")  # the skip link comes first on every page
    expect(page.get_by_role("link", name="Bỏ qua, đến nội dung chính")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()


def test_docs_work_without_the_internet(open_tab) -> None:
    tab = open_tab()
    page = tab.go("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Chỉ số CCHC")
    expect(page.get_by_text("/api/v1/auth/login").first).to_be_visible()
    tab.check("docs")


def test_a_viewer_follows_progress_and_signs_out(open_tab, make_user, http,
                                                 admin_headers) -> None:
    viewer, _ = make_user("viewer", full_name="Nguyễn Văn Tỉnh")
    campaigns = http.get("/api/v1/campaigns", headers=admin_headers).json()
    tab = open_tab()
    page = sign_in(tab, viewer, USER_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Xin chào, Nguyễn Văn Tỉnh")
    if campaigns:
        page.get_by_role("link", name="Tiến độ").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Tiến độ tự đánh giá")
        tab.check("viewer-progress", phone=True)
    page = tab.go("/admin/accounts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Bạn không có quyền mở trang này")
    assert "Quản trị (Sở Nội vụ)" in tab.alert()
    tab.check("viewer-forbidden")
    page.get_by_role("button", name="Đăng xuất").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Đăng nhập")
    tab.go("/")
    assert "/login" in page.url


def test_results_before_publication_say_so_under_the_persons_own_header(
        open_tab, make_user, unit, campaign) -> None:  # noqa: F811
    created = campaign([unit()], locks_in=3600)
    viewer, _ = make_user("viewer", full_name="Lê Thị Chờ")
    tab = open_tab()
    sign_in(tab, viewer, USER_PASSWORD)
    page = tab.go(f"/campaigns/{created['id']}/results")
    expect(page.get_by_role("heading", level=1)).to_have_text("Kết quả chưa được công bố")
    expect(page.get_by_text("khi kết quả được công bố")).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)  # a stage of the year, not a fault
    # Still their page: who they are, and the way out.
    expect(page.locator("header").get_by_text("Lê Thị Chờ")).to_be_visible()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()
    tab.check("results-not-published", phone=True)
