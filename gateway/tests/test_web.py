"""The web client's pieces that need no browser: formats, the tree, the forms' bodies,
account lists, and that every page declares who may open it."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from openpyxl import Workbook
from starlette.datastructures import FormData

from gateway.app import app
from gateway.policy import Principal, route_access
from gateway.web.pages.admin import read_account_list, reminder_minutes, vietnam_instant
from gateway.web.pages.assessment import entry_body, tree_rows
from gateway.web.pages.results import by_type, field_bars, trend_points
from gateway.web.problems import ApiError
from gateway.web.render import vn_number, vn_time


def test_times_are_shown_in_vietnam_as_dd_mm_yyyy_hh_mm() -> None:
    assert vn_time("2025-10-05T10:00:00+00:00") == "05/10/2025 17:00"
    assert vn_time("2025-10-05T17:00:00+07:00") == "05/10/2025 17:00"
    assert vn_time("2025-12-31T20:30:00Z") == "01/01/2026 03:30"
    assert vn_time(None) == "—"


@pytest.mark.parametrize(("value", "shown"), [
    ("0.25", "0,25"), ("2.00", "2"), ("84.50", "84,5"), ("1234.5", "1.234,5"),
    ("100", "100"), (Decimal("-0.5"), "-0,5"), ("1000000", "1.000.000"), (None, "—"),
])
def test_numbers_take_the_decimal_comma(value: object, shown: str) -> None:
    assert vn_number(value) == shown


def test_a_datetime_local_value_is_vietnam_time() -> None:
    assert vietnam_instant("2025-10-05T17:00") == "2025-10-05T17:00:00+07:00"
    with pytest.raises(ApiError) as refused:
        vietnam_instant("05/10/2025")
    assert refused.value.status == 422


def test_reminders_in_hours_become_minutes() -> None:
    assert reminder_minutes("72, 24, 2") == [4320, 1440, 120]
    with pytest.raises(ApiError):
        reminder_minutes("ba ngày")


def _form(**values: str) -> FormData:
    return FormData(list(values.items()))


def test_the_entry_body_takes_only_what_the_rule_takes() -> None:
    form = _form(option="Chậm", done="3", planned="4", self_score="0,75", count="2",
                 explanation="Báo cáo số 25/BC-UBND, mục II")
    assert entry_body({"kind": "options"}, form) == {
        "option": "Chậm", "explanation": "Báo cáo số 25/BC-UBND, mục II",
        "not_applicable": False}
    assert entry_body({"kind": "range"}, form)["self_score"] == "0.75"
    assert {"done": "3", "planned": "4"}.items() <= entry_body({"kind": "ratio"}, form).items()
    assert entry_body({"kind": "deduction"}, _form(count="1", not_applicable="on")) == {
        "count": "1", "explanation": "", "not_applicable": True}


CATALOG = {"nodes": [
    {"code": "1", "title": "Lĩnh vực 1", "children": [
        {"code": "1.1", "title": "A"}, {"code": "1.2", "title": "B"}]},
    {"code": "2", "title": "Lĩnh vực 2", "children": [{"code": "2.1", "title": "C"}]},
]}
ENTRIES = [
    {"code": "1.1", "assignee": "lan", "self_score": "1.5", "status": "complete"},
    {"code": "1.2", "assignee": "minh", "self_score": None, "status": "draft"},
    {"code": "2.1", "assignee": "lan", "self_score": "2", "not_applicable": True,
     "status": "draft", "returned": True},
]


def _person(roles: str, username: str = "lan") -> Principal:
    return Principal(username=username, full_name=username, roles=frozenset({roles}),
                     unit_code="X", department_code=None)


def test_staff_see_their_criteria_in_the_tree_and_the_leader_sees_all() -> None:
    mine = tree_rows(CATALOG, ENTRIES, _person("unit_staff"), "X")
    assert [r["node"]["code"] for r in mine] == ["1", "1.1", "2", "2.1"]
    assert [r.get("state") for r in mine if r["entry"]] == ["complete", "returned"]
    everything = tree_rows(CATALOG, ENTRIES, _person("unit_leader", "hung"), "X")
    assert [r["node"]["code"] for r in everything] == ["1", "1.1", "1.2", "2", "2.1"]
    # A field adds up its applicable criteria; "not applicable" counts for nothing.
    assert everything[0]["score"] == Decimal("1.5") and everything[3]["score"] == 0
    nobody = tree_rows(CATALOG, ENTRIES, _person("unit_staff", "thu"), "X")
    assert nobody == []


def _sheet(*rows: list[object]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_account_lists_read_vietnamese_or_english_headings() -> None:
    people = read_account_list(_sheet(
        ["Tên đăng nhập", "Họ và tên", "Vai trò", "Mã đơn vị"],
        ["lan.nt", "Nguyễn Thị Lan", "unit_staff, unit_leader", "X-1"],
        [None, None, None, None],
        ["minh.tv", "Trần Văn Minh", None, "X-1"]))
    assert people == [
        {"username": "lan.nt", "full_name": "Nguyễn Thị Lan",
         "roles": ["unit_staff", "unit_leader"], "unit_code": "X-1"},
        {"username": "minh.tv", "full_name": "Trần Văn Minh", "roles": ["unit_staff"],
         "unit_code": "X-1"}]
    with pytest.raises(ApiError) as no_columns:
        read_account_list(_sheet(["a", "b"]))
    assert no_columns.value.code == "list_columns"
    with pytest.raises(ApiError) as not_xlsx:
        read_account_list(b"PK not a workbook")
    assert not_xlsx.value.code == "unreadable_list"


OPEN_PAGES = {"/login", "/logout", "/docs"}


def test_every_page_declares_who_may_open_it() -> None:
    # FastAPI includes routers lazily: read the routes as the OpenAPI document does.
    pages = [r for r in iter_route_contexts(app.routes)
             if isinstance(r.original_route, APIRoute) and not r.include_in_schema
             and not r.path_format.startswith("/api/")]
    assert len(pages) > 20
    for route in pages:
        access = route_access(route.dependant)
        if route.path_format in OPEN_PAGES:
            assert access["kind"] == "public", route.path_format
        else:
            assert access["kind"] in ("signed_in", "roles"), (route.path_format, access)
    admin_only = {r.path_format for r in pages
                  if route_access(r.dependant).get("roles") == ["admin"]}
    assert {"/admin/units", "/admin/accounts", "/admin/campaigns"} <= admin_only


def test_the_trend_and_the_field_chart_are_laid_out_exactly() -> None:
    one = trend_points([{"year": 2025, "index": "92.50"}])
    assert one[0]["x"] == 170 and one[0]["y"] == Decimal("31.2")
    two = trend_points([{"year": 2025, "index": "50"}, {"year": 2024, "index": "100"},
                        {"year": 2023, "index": None}])
    assert [(p["year"], p["x"], p["y"]) for p in two] == [(2024, 40, 20), (2025, 300, 95)]
    bars = field_bars({"rows": [
        {"kind": "field", "code": "1", "max": "5", "mean": "3.75"},
        {"kind": "criterion", "code": "1.1", "max": "2", "mean": "1"},
        {"kind": "field", "code": "2", "max": "5", "mean": None}]})
    assert [(b["code"], b["percent"]) for b in bars] == [("1", 75), ("2", 0)]


def test_results_are_grouped_by_unit_type_in_rank_order() -> None:
    rows = [{"unit_type": "commune", "rank": 2, "unit_code": "B"},
            {"unit_type": "department", "rank": None, "unit_code": "S"},
            {"unit_type": "commune", "rank": 1, "unit_code": "A"}]
    assert [(k, [r["unit_code"] for r in v]) for k, v in by_type(rows)] == [
        ("commune", ["A", "B"]), ("department", ["S"])]


def test_a_save_refused_at_capacity_comes_back_as_a_page_that_sends_it_again() -> None:
    from starlette.requests import Request

    from gateway.web.render import retry_later

    scope = {"type": "http", "method": "POST", "path": "/assessments/7/entries/1.1",
             "headers": [], "query_string": b"", "scheme": "http", "app": app,
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000)}
    request = Request(scope)
    form = FormData([("csrf_token", "old"), ("version", "3"), ("option", "Đúng hạn"),
                     ("explanation", 'Báo cáo "số 25" <mục II>'), ("action", "save")])
    busy = ApiError(503, {"code": "overloaded", "detail": "Hệ thống đang bận / busy",
                          "retry_after": 1})
    response = retry_later(request, None, form, busy)
    assert response is not None and response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    html = response.body.decode()
    assert 'data-resubmit-after="1"' in html
    assert 'action="/assessments/7/entries/1.1"' in html
    for name, value in (("version", "3"), ("option", "Đúng hạn"), ("action", "save"),
                        ("explanation", "Báo cáo &#34;số 25&#34; &lt;mục II&gt;")):
        assert f'name="{name}" value="{value}"' in html
    assert 'value="old"' not in html  # the page's own token, not the stale one
    down = ApiError(503, {"code": "service_unavailable", "retry_after": 5})
    assert retry_later(request, None, form, down) is None
    assert retry_later(request, None, form, ApiError(423, {"code": "window_locked"})) is None
