import copy
import io
import json
import unicodedata
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import yaml

from services.common import scoring
from services.criteria.catalog import (
    Band,
    Catalog,
    CatalogInvalid,
    DeductionRule,
    Node,
    Option,
    OptionsRule,
    RangeRule,
    RatioRule,
    ScoreRejected,
    catalog_to_dict,
    find_node,
    iter_leaves,
)
from services.criteria.parse import clone_catalog, parse_catalog
from services.criteria.problems import PROBLEM_MESSAGES
from services.criteria.rules import applicable_max, bands_as_rows, compute_result, score_entry
from services.criteria.xlsx import catalog_from_xlsx, catalog_to_xlsx

CATALOGS = Path(__file__).resolve().parents[3] / "data" / "catalogs"

BANDS = [
    {"min": 90, "label": "Xuất sắc"},
    {"min": 80, "label": "Tốt"},
    {"min": 65, "label": "Khá"},
    {"min": 50, "label": "Trung bình"},
    {"min": 0, "label": "Yếu"},
]

SAMPLE = {
    "name": "Bộ tiêu chí CCHC cấp xã 2023",
    "year": 2023,
    "unit_type": "commune",
    "bands": BANDS,
    "nodes": [
        {
            "code": "1",
            "title": "Công tác chỉ đạo, điều hành CCHC",
            "max": 6,
            "children": [
                {
                    "code": "1.1",
                    "title": "Ban hành kế hoạch CCHC năm",
                    "max": 2,
                    "rule": {
                        "kind": "options",
                        "options": [
                            {"label": "Đúng thời hạn", "score": 2},
                            {"label": "Chậm", "score": 1},
                            {"label": "Không ban hành", "score": 0},
                        ],
                    },
                    "evidence": "required",
                    "not_applicable_allowed": False,
                    "appraised_by": "SNV",
                },
                {
                    "code": "1.2",
                    "title": "Tỷ lệ hoàn thành kế hoạch",
                    "max": 2,
                    "rule": {"kind": "ratio"},
                    "not_applicable_allowed": True,
                    "form_allowed": True,
                },
                {
                    "code": "1.3",
                    "title": "Kiểm tra công tác CCHC",
                    "max": 2,
                    "rule": {"kind": "range", "step": 0.25},
                },
            ],
        },
        {
            "code": "2",
            "title": "Cải cách thủ tục hành chính",
            "max": "4.5",
            "children": [
                {
                    "code": "2.1",
                    "title": "Công khai TTHC",
                    "max": "2.5",
                    "rule": {"kind": "deduction", "per_item": "0.5"},
                    "evidence": "none",
                    "appraised_by": "VPUBND",
                },
                {
                    "code": "2.2",
                    "title": "Giải quyết hồ sơ",
                    "max": 2,
                    "children": [
                        {
                            "code": "2.2.1",
                            "title": "Hồ sơ đúng hạn",
                            "max": 1.5,
                            "rule": {"kind": "ratio"},
                        },
                        {
                            "code": "2.2.2",
                            "title": "Xin lỗi khi trễ hạn",
                            "max": 0.5,
                            "rule": {
                                "kind": "options",
                                "options": [
                                    {"label": "Có", "score": 0.5},
                                    {"label": "Không", "score": 0},
                                ],
                            },
                            "not_applicable_allowed": True,
                        },
                    ],
                },
            ],
        },
    ],
}


def sample() -> dict:
    return copy.deepcopy(SAMPLE)


@pytest.fixture
def catalog() -> Catalog:
    return parse_catalog(sample())


def problem_codes(data) -> list[str]:
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(data)
    return [p.code for p in caught.value.problems]


def load_shipped(name: str) -> Catalog:
    return parse_catalog(yaml.safe_load((CATALOGS / name).read_text(encoding="utf-8")))


# --- parsing -----------------------------------------------------------------


def test_parse_builds_the_tree_with_exact_decimals_and_defaults(catalog):
    assert [n.code for n in catalog.nodes] == ["1", "2"]
    leaf = find_node(catalog, "2.2.2")
    assert leaf.max == Decimal("0.5") and isinstance(leaf.max, Decimal)
    assert leaf.evidence == "optional"
    assert leaf.appraised_by is None and leaf.form_allowed is False
    assert leaf.not_applicable_allowed is True
    assert find_node(catalog, "1.3").rule == RangeRule(Decimal("0.25"))
    assert find_node(catalog, "2.1").rule == DeductionRule(Decimal("0.5"))
    assert isinstance(find_node(catalog, "1.2").rule, RatioRule)
    assert find_node(catalog, "1").rule is None
    assert find_node(catalog, "9.9") is None
    assert catalog.bands[0] == Band(Decimal(90), "Xuất sắc")


def test_float_inputs_add_up_exactly():
    # As floats 0.1 + 0.2 != 0.3; read as decimals they must.
    data = sample()
    data["nodes"][1]["children"][1]["max"] = 0.3
    data["nodes"][1]["children"][1]["children"][0]["max"] = 0.1
    data["nodes"][1]["children"][1]["children"][1]["max"] = 0.2
    data["nodes"][1]["children"][1]["children"][1]["rule"]["options"][0]["score"] = 0.2
    data["nodes"][1]["max"] = 2.8
    parsed = parse_catalog(data)
    assert find_node(parsed, "2.2").max == Decimal("0.3")


def test_numbers_accepted_as_strings_including_decimal_comma():
    data = sample()
    data["nodes"][0]["children"][2]["max"] = "2,0"
    data["nodes"][0]["children"][2]["rule"]["step"] = "0,25"
    parsed = parse_catalog(data)
    assert find_node(parsed, "1.3").rule.step == Decimal("0.25")


def test_text_is_nfc_normalised():
    data = sample()
    data["nodes"][0]["title"] = unicodedata.normalize("NFD", "Công tác chỉ đạo")
    parsed = parse_catalog(data)
    assert parsed.nodes[0].title == unicodedata.normalize("NFC", "Công tác chỉ đạo")


def test_every_problem_is_reported_in_one_call():
    data = sample()
    data["bands"] = [{"min": 80, "label": "Tốt"}, {"min": 120, "label": "Xuất sắc"}]
    one = data["nodes"][0]
    one["children"][0]["rule"]["options"][0]["score"] = 3  # above max 2
    one["children"][0]["rule"]["options"][1]["score"] = -1
    one["children"][0]["evidence"] = "maybe"
    one["children"][1]["rule"] = {"kind": "percent"}
    one["children"][2]["rule"]["step"] = 0.3  # does not divide 2
    ratio = {"kind": "ratio"}
    one["children"] += [
        {"code": "1.2", "title": "Trùng mã", "max": 1, "rule": ratio},
        {"code": "2.3", "title": "Sai cha", "max": 1, "rule": ratio},
        {"code": "1.6", "title": "  ", "max": -1, "rule": ratio},
    ]
    two = data["nodes"][1]
    two["max"] = 5
    two["children"][0]["rule"]["per_item"] = 0
    two["children"][1]["children"][0].pop("max")
    two["children"][1]["children"][1]["not_applicable_allowed"] = "yes"
    data["nodes"] += [
        {
            "code": 3.1,
            "title": "Không đặt ngoặc kép",
            "max": 1,
            "rule": {"kind": "ratio"},
        },
        {"code": "4", "title": "Không có cách chấm", "max": 1, "colour": "red"},
        {
            "code": "5.1",
            "title": "Cấp đầu mà hai số",
            "max": 1,
            "rule": {"kind": "ratio"},
        },
    ]

    codes = problem_codes(data)

    assert sorted(codes) == sorted(
        [
            "bands_unsorted",
            "band_out_of_range",
            "bands_no_floor",
            "option_above_max",
            "option_below_zero",
            "unknown_evidence",
            "unknown_rule",
            "bad_step",
            "duplicate_code",
            "code_not_under_parent",
            "code_not_under_parent",
            "missing_title",
            "bad_max",
            "children_sum_mismatch",  # node 2: 2.5 + 2 != 5
            "bad_per_item",
            "missing_max",
            "bad_flag",
            "bad_code",
            "missing_rule",
            "unknown_field",
        ]
    )


def test_problems_name_the_node_in_vietnamese_and_english():
    data = sample()
    data["nodes"][0]["children"][1]["code"] = "1.1"
    with pytest.raises(CatalogInvalid) as caught:
        parse_catalog(data)
    (duplicate,) = [p for p in caught.value.problems if p.code == "duplicate_code"]
    assert duplicate.path == "1.1"
    assert duplicate.message == "Mã tiêu chí trùng lặp / duplicate code: 1.1"
    assert all(" / " in message for message in PROBLEM_MESSAGES.values())


def _set(path, value):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value

    return mutate


def _append(path, value):
    def mutate(data):
        target = data
        for key in path:
            target = target[key]
        target.append(value)

    return mutate


LEAF_11 = ["nodes", 0, "children", 0]
TOP = {"title": "Lĩnh vực thêm", "max": 1, "rule": {"kind": "ratio"}}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (_set(["nodes", 0, "children", 1, "code"], "1.1"), "duplicate_code"),
        (_set(["nodes", 0, "max"], 7), "children_sum_mismatch"),
        (_set(["nodes", 0, "max"], "6.25"), "children_sum_mismatch"),
        (_set([*LEAF_11, "rule", "options", 0, "score"], "2.25"), "option_above_max"),
        (_set([*LEAF_11, "rule", "options", 2, "score"], "-0.5"), "option_below_zero"),
        (
            _set([*LEAF_11, "rule", "options", 1, "label"], "Đúng thời hạn"),
            "duplicate_option",
        ),
        (_set([*LEAF_11, "rule", "options"], []), "no_options"),
        (_set([*LEAF_11, "rule", "options", 1, "score"], "abc"), "bad_option"),
        (_set([*LEAF_11, "rule"], {"kind": "bonus"}), "unknown_rule"),
        (_set([*LEAF_11, "rule"], "options"), "unknown_rule"),
        (_set([*LEAF_11, "rule"], KeyError), "missing_rule"),
        (_set([*LEAF_11, "evidence"], "signed"), "unknown_evidence"),
        (_set([*LEAF_11, "title"], ""), "missing_title"),
        (_set([*LEAF_11, "title"], KeyError), "missing_title"),
        (_set([*LEAF_11, "title"], "Kế hoạch\x07"), "bad_text"),
        (_set([*LEAF_11, "code"], "2.9"), "code_not_under_parent"),
        (_set([*LEAF_11, "code"], "1.1.1"), "code_not_under_parent"),
        (_append(["nodes"], {**TOP, "code": "3.1"}), "code_not_under_parent"),
        (_append(["nodes"], {**TOP, "code": "03"}), "bad_code"),
        (_set([*LEAF_11, "code"], "1.a"), "bad_code"),
        (_set([*LEAF_11, "code"], 1.1), "bad_code"),
        (_set([*LEAF_11, "code"], KeyError), "missing_code"),
        (_set([*LEAF_11, "max"], KeyError), "missing_max"),
        (_set([*LEAF_11, "not_applicable_allowed"], "true"), "bad_flag"),
        (_set([*LEAF_11, "appraised_by"], 7), "bad_appraised_by"),
        (_set([*LEAF_11, "evidance"], "required"), "unknown_field"),
        (_set(["nodes", 0, "rule"], {"kind": "ratio"}), "rule_on_parent"),
        (_set(["nodes", 0, "form_allowed"], True), "leaf_field_on_parent"),
        (_set(["nodes", 0, "evidence"], "maybe"), "unknown_evidence"),
        (_set(["nodes", 0, "not_applicable_allowed"], "yes"), "bad_flag"),
        (_set(["nodes", 0, "appraised_by"], 7), "bad_appraised_by"),
        (_set(["nodes", 0, "children", 2, "rule", "step"], "0.75"), "bad_step"),
        (_set(["nodes", 0, "children", 2, "rule", "step"], 0), "bad_step"),
        (_set(["nodes", 0, "children", 2, "rule", "step"], KeyError), "bad_step"),
        (_set(["nodes", 1, "children", 0, "rule", "per_item"], "3"), "bad_per_item"),
        (_set(["nodes", 1, "children", 0, "rule", "per_item"], -1), "bad_per_item"),
        (_set(["bands", 0, "min"], 101), "band_out_of_range"),
        (_set(["bands", 4, "min"], 10), "bands_no_floor"),
        (_set(["bands", 1, "label"], "Xuất sắc"), "duplicate_band"),
        (_set(["bands", 1, "min"], 95), "bands_unsorted"),
        (_set(["bands", 1, "min"], 90), "bands_unsorted"),
        (_set(["bands"], []), "no_bands"),
        (_set(["nodes"], []), "no_nodes"),
        (_set(["name"], " "), "missing_name"),
        (_set(["year"], "2023"), "bad_year"),
        (_set(["year"], True), "bad_year"),
        (_set(["unit_type"], "Xã"), "bad_unit_type"),
    ],
)
def test_each_problem_is_detected_alone(mutate, expected):
    data = sample()
    mutate(data)
    assert problem_codes(data) == [expected]


def test_negative_max_is_refused_without_a_cascade():
    data = sample()
    data["nodes"][0]["children"][2]["max"] = -2
    codes = problem_codes(data)
    # The parent's sum is not checked against an unreadable child: one problem, not two.
    assert codes == ["bad_max"]


def test_not_a_mapping():
    assert problem_codes(["nodes"]) == ["not_a_mapping"]


# --- dict round trip ---------------------------------------------------------


def test_dict_round_trip_gives_the_same_tree(catalog):
    as_dict = catalog_to_dict(catalog)
    again = parse_catalog(as_dict)
    assert again == catalog
    assert catalog_to_dict(again) == as_dict
    # JSON-safe, with decimals as strings so no float ever touches a score.
    text = json.dumps(as_dict, ensure_ascii=False)
    assert parse_catalog(json.loads(text)) == catalog
    leaf = as_dict["nodes"][1]["children"][0]
    assert leaf["max"] == "2.5" and leaf["rule"] == {
        "kind": "deduction",
        "per_item": "0.5",
    }
    assert "rule" not in as_dict["nodes"][0]


def test_dict_output_is_canonical():
    data = sample()
    data["nodes"][1]["max"] = "4.50"
    data["nodes"][0]["max"] = "6E0"
    as_dict = catalog_to_dict(parse_catalog(data))
    assert as_dict["nodes"][1]["max"] == "4.5"
    assert as_dict["nodes"][0]["max"] == "6"


# --- XLSX --------------------------------------------------------------------


def test_xlsx_round_trip_gives_the_same_tree(catalog):
    data = catalog_to_xlsx(catalog)
    assert catalog_from_xlsx(data) == catalog
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["criteria", "meta"]
    assert all(len(name) <= 31 for name in book.sheetnames)
    rows = list(book["criteria"].iter_rows(values_only=True))
    assert rows[0][:4] == ("code", "title", "max", "rule")
    assert len(rows) == 1 + 9  # header + every node
    assert rows[2][4] == "Đúng thời hạn=2; Chậm=1; Không ban hành=0"


def test_xlsx_keeps_formula_like_text_and_odd_labels_as_text():
    data = sample()
    data["nodes"][0]["children"][0]["title"] = '=HYPERLINK("http://x","bấm")'
    data["nodes"][0]["children"][0]["rule"]["options"][0]["label"] = "Đạt; đủ = 100%"
    data["nodes"][0]["children"][0]["rule"]["options"][1]["label"] = "Chậm \\ trễ"
    parsed = parse_catalog(data)
    xlsx = catalog_to_xlsx(parsed)
    cell = openpyxl.load_workbook(io.BytesIO(xlsx))["criteria"]["B3"]
    assert cell.data_type == "s"
    assert cell.value.startswith("=HYPERLINK")
    assert catalog_from_xlsx(xlsx) == parsed


def _edited(catalog: Catalog, edit) -> bytes:
    book = openpyxl.load_workbook(io.BytesIO(catalog_to_xlsx(catalog)))
    edit(book)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_rows_in_any_order_and_codes_typed_as_numbers(catalog):
    def edit(book):
        sheet = book["criteria"]
        rows = [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)]
        sheet.delete_rows(2, sheet.max_row)
        for row in reversed(rows):
            # Someone typed codes into General cells: Excel stores numbers.
            row[0] = {"1": 1, "2.2": 2.2}.get(row[0], row[0])
            sheet.append(row)

    rebuilt = catalog_from_xlsx(_edited(catalog, edit))
    assert [n.code for n in rebuilt.nodes] == ["2", "1"]
    assert [n.code for n in find_node(rebuilt, "2").children] == ["2.2", "2.1"]
    assert [n.code for n in find_node(rebuilt, "2.2").children] == ["2.2.2", "2.2.1"]
    for leaf in iter_leaves(catalog):
        assert find_node(rebuilt, leaf.code) == leaf


def test_xlsx_reports_every_problem_and_orphans(catalog):
    def edit(book):
        sheet = book["criteria"]
        sheet["C2"].value = 8  # field 1: 2 + 2 + 2 + the duplicate 1 != 8
        sheet["H3"].value = "signed"  # evidence
        sheet.append(["5.1", "Không có cha", 1, "ratio"])
        sheet.append(["1.2", "Trùng", 1, "ratio"])
        book["meta"]["B2"].value = "năm ngoái"

    with pytest.raises(CatalogInvalid) as caught:
        catalog_from_xlsx(_edited(catalog, edit))
    codes = sorted(p.code for p in caught.value.problems)
    assert codes == sorted(
        [
            "children_sum_mismatch",
            "unknown_evidence",
            "no_parent_row",
            "duplicate_code",
            "bad_year",
        ]
    )
    orphan = next(p for p in caught.value.problems if p.code == "no_parent_row")
    assert orphan.path == "criteria!A11"


def test_xlsx_garbage_and_missing_sheets_are_problems_not_crashes(catalog):
    with pytest.raises(CatalogInvalid) as caught:
        catalog_from_xlsx(b"PK\x03\x04 not really a zip")
    assert [p.code for p in caught.value.problems] == ["bad_xlsx"]

    def drop_meta(book):
        del book["meta"]

    with pytest.raises(CatalogInvalid) as caught:
        catalog_from_xlsx(_edited(catalog, drop_meta))
    assert [p.code for p in caught.value.problems] == ["missing_sheet"]


# --- scoring -----------------------------------------------------------------


def rejected(node, inp) -> str:
    with pytest.raises(ScoreRejected) as caught:
        score_entry(node, inp)
    assert " / " in caught.value.message
    return caught.value.code


def test_options_by_label_or_index(catalog):
    node = find_node(catalog, "1.1")
    assert score_entry(node, {"option": "Đúng thời hạn"}) == 2
    assert score_entry(node, {"option": unicodedata.normalize("NFD", "Chậm")}) == 1
    assert score_entry(node, {"option": 2}) == 0
    assert score_entry(node, {"option": 0, "explanation": "ignored"}) == 2
    assert rejected(node, {"option": "Sớm"}) == "unknown_option"
    assert rejected(node, {"option": 3}) == "unknown_option"
    assert rejected(node, {"option": -1}) == "unknown_option"
    assert rejected(node, {"option": True}) == "unknown_option"
    assert rejected(node, {}) == "missing_input"


def test_parents_settings_are_inherited_and_a_childs_own_wins():
    data = {
        "name": "Bộ thừa kế", "year": 2025, "unit_type": "commune",
        "bands": [{"min": 0, "label": "Yếu"}],
        "nodes": [{"code": "1", "title": "Lĩnh vực", "max": 4, "appraised_by": "SNV",
                   "evidence": "required", "children": [
                       {"code": "1.1", "title": "Tiêu chí", "max": 3,
                        "not_applicable_allowed": True, "children": [
                            {"code": "1.1.1", "title": "a", "max": 1, "rule": {"kind": "ratio"}},
                            {"code": "1.1.2", "title": "b", "max": 2, "rule": {"kind": "ratio"},
                             "appraised_by": "STP", "evidence": "none",
                             "not_applicable_allowed": False}]},
                       {"code": "1.2", "title": "c", "max": 1, "rule": {"kind": "ratio"}}]}],
    }
    catalog = parse_catalog(data)
    resolved = {n.code: (n.appraised_by, n.evidence, n.not_applicable_allowed)
                for n in iter_leaves(catalog)}
    assert resolved == {"1.1.1": ("SNV", "required", True),
                        "1.1.2": ("STP", "none", False),
                        "1.2": ("SNV", "required", False)}
    tree = catalog_to_dict(catalog)
    field = tree["nodes"][0]
    assert (field["appraised_by"], field["evidence"]) == ("SNV", "required")
    assert field["children"][0]["children"][0]["appraised_by"] == "SNV"
    # The stored tree reads back to the same set.
    assert parse_catalog(tree) == catalog


def test_options_by_self_score_when_exactly_one_option_gives_it(catalog):
    node = find_node(catalog, "1.1")  # 2 / 1 / 0
    assert score_entry(node, {"self_score": 1}) == 1
    assert score_entry(node, {"self_score": "2.0"}) == 2
    assert rejected(node, {"self_score": "1.5"}) == "not_an_option_score"
    assert rejected(node, {"self_score": "1e9999999"}) == "not_a_number"
    twins = Node("9.1", "t", Decimal(1), rule=OptionsRule((
        Option("Đạt", Decimal(1)), Option("Vượt", Decimal(1)), Option("Không", Decimal(0)))))
    assert rejected(twins, {"self_score": 1}) == "ambiguous_option_score"
    assert score_entry(twins, {"self_score": 0}) == 0


def test_option_above_max_cannot_exist():
    data = sample()
    data["nodes"][0]["children"][0]["rule"]["options"].append(
        {"label": "Thưởng", "score": 2.5}
    )
    assert problem_codes(data) == ["option_above_max"]


def test_ratio_edges(catalog):
    node = find_node(catalog, "1.2")  # max 2
    assert score_entry(node, {"done": 21, "planned": 21}) == Decimal(2)
    assert score_entry(node, {"done": 0, "planned": 21}) == Decimal(0)
    assert score_entry(node, {"done": 2, "planned": 3}) == Decimal("1.33")
    assert score_entry(node, {"done": "1", "planned": "3"}) == Decimal("0.67")
    # Done of planned cannot exceed the plan: the unit enters the plan as done.
    assert rejected(node, {"done": 30, "planned": 21}) == "done_above_planned"
    assert rejected(node, {"done": 5, "planned": 4}) == "done_above_planned"
    assert rejected(node, {"done": 1, "planned": "1e9999999"}) == "not_a_number"
    assert rejected(node, {"done": "1e-9999999", "planned": 1}) == "not_a_number"
    assert rejected(node, {"done": 0, "planned": 0}) == "planned_zero"
    assert rejected(node, {"done": 5, "planned": 0}) == "planned_zero"
    assert rejected(node, {"done": -1, "planned": 5}) == "negative"
    assert rejected(node, {"done": 1}) == "missing_input"
    assert rejected(node, {"done": float("nan"), "planned": 5}) == "not_a_number"


def test_ratio_rounds_half_up_not_half_even():
    node = find_node(parse_catalog(sample()), "2.2.1")  # max 1.5
    # 1.5 × 1/12 = 0.125: HALF_EVEN would give 0.12.
    assert score_entry(node, {"done": 1, "planned": 12}) == Decimal("0.13")
    assert str(score_entry(node, {"done": 1, "planned": 12})) == "0.13"


def test_range_edges(catalog):
    node = find_node(catalog, "1.3")  # max 2, step 0.25
    assert score_entry(node, {"self_score": 0}) == 0
    assert score_entry(node, {"self_score": 2}) == 2
    assert score_entry(node, {"self_score": "1.75"}) == Decimal("1.75")
    assert score_entry(node, {"self_score": 0.25}) == Decimal("0.25")
    assert score_entry(node, {"self_score": Decimal("1.50")}) == Decimal("1.5")
    assert rejected(node, {"self_score": "1.8"}) == "not_multiple_of_step"
    assert rejected(node, {"self_score": "0.1"}) == "not_multiple_of_step"
    assert rejected(node, {"self_score": "2.25"}) == "above_max"
    assert rejected(node, {"self_score": "-0.25"}) == "negative"
    assert rejected(node, {"self_score": True}) == "not_a_number"
    assert rejected(node, {"self_score": "NaN"}) == "not_a_number"
    assert rejected(node, {"self_score": "Infinity"}) == "not_a_number"
    assert rejected(node, {"self_score": float("inf")}) == "not_a_number"
    assert rejected(node, {"self_score": "hai"}) == "not_a_number"
    assert rejected(node, {"self_score": [1]}) == "not_a_number"
    assert rejected(node, {"self_score": None}) == "missing_input"
    assert rejected(node, {"self_score": "1e9999999"}) == "not_a_number"
    assert rejected(node, {"self_score": "1e-9999999"}) == "not_a_number"


def test_deduction_edges(catalog):
    node = find_node(catalog, "2.1")  # max 2.5, per_item 0.5
    assert score_entry(node, {"count": 0}) == Decimal("2.5")
    assert score_entry(node, {"count": 1}) == Decimal(2)
    assert score_entry(node, {"count": 5}) == 0
    assert score_entry(node, {"count": 6}) == 0  # floored, never below 0
    assert score_entry(node, {"count": 1000}) == 0
    assert score_entry(node, {"count": "2"}) == Decimal("1.5")
    assert rejected(node, {"count": -1}) == "negative"
    assert rejected(node, {"count": 1.5}) == "not_integer"
    assert rejected(node, {"count": False}) == "not_a_number"


def test_a_field_is_not_scorable(catalog):
    assert rejected(find_node(catalog, "1"), {"self_score": 1}) == "not_scorable"


# --- totals and classification -----------------------------------------------


def test_compute_result_counts_applicable_criteria_only(catalog):
    scores = {
        "1.1": Decimal(2),
        "1.2": Decimal("1.33"),
        "1.3": Decimal("1.75"),
        "2.1": Decimal(2),
    }
    full = compute_result(catalog, scores)
    assert (full.total, full.max, full.index) == (
        Decimal("7.08"), Decimal("10.5"), Decimal("67.43"))

    # 1.2 does not apply this year: it leaves both the total and the maximum.
    result = compute_result(catalog, scores, {"1.2"})
    assert result.total == Decimal("5.75")
    assert result.max == Decimal("8.5")
    assert result.index == Decimal("67.65")  # 575/8.5 = 67.647…
    assert applicable_max(catalog, {"1.2", "2.2.2"}) == Decimal(8)


def test_compute_result_unscored_counts_zero_and_nothing_applicable_has_no_index(
    catalog,
):
    nothing = compute_result(catalog, {})
    assert (nothing.total, nothing.max, nothing.index) == (0, Decimal("10.5"), Decimal("0.00"))
    assert compute_result(catalog, {"1.1": None}).total == 0
    only = parse_catalog(
        {
            **sample(),
            "nodes": [
                {
                    "code": "1",
                    "title": "Chỉ một tiêu chí",
                    "max": 1,
                    "rule": {"kind": "ratio"},
                    "not_applicable_allowed": True,
                }
            ],
        }
    )
    none_apply = compute_result(only, {"1": Decimal(1)}, {"1"})
    assert (none_apply.total, none_apply.max, none_apply.index) == (0, 0, None)
    assert none_apply.classification is None


def test_compute_result_refuses_what_the_set_does_not_allow(catalog):
    with pytest.raises(ScoreRejected) as caught:
        compute_result(catalog, {}, {"1.1"})
    assert caught.value.code == "not_applicable_not_allowed"
    with pytest.raises(ScoreRejected) as caught:
        compute_result(catalog, {}, {"2.2"})  # 2.2.1 under it does not allow it
    assert caught.value.code == "not_applicable_not_allowed"
    with pytest.raises(ScoreRejected) as caught:
        compute_result(catalog, {"1": Decimal(1)}, set())
    assert caught.value.code == "unknown_code"
    with pytest.raises(ScoreRejected) as caught:
        compute_result(catalog, {}, {"7"})
    assert caught.value.code == "unknown_code"
    with pytest.raises(ScoreRejected) as caught:
        compute_result(catalog, {"1.1": Decimal("2.5")}, set())
    assert caught.value.code == "score_out_of_range"


@pytest.mark.parametrize(
    ("index", "label"),
    [
        ("100", "Xuất sắc"),
        ("90", "Xuất sắc"),
        ("89.99", "Tốt"),
        ("80.00", "Tốt"),
        ("79.99", "Khá"),
        ("65", "Khá"),
        ("64.99", "Trung bình"),
        ("50", "Trung bình"),
        ("49.99", "Yếu"),
        ("0", "Yếu"),
    ],
)
def test_classify_at_band_boundaries(catalog, index, label):
    bands = bands_as_rows(catalog.bands)
    assert scoring.band(Decimal(index), bands) == label
    assert scoring.band(Decimal(index), list(reversed(bands))) == label


def test_below_every_band_is_not_classified(catalog):
    """One answer everywhere (services/common/scoring.py): no band, not an error."""
    assert scoring.band(Decimal(-1), bands_as_rows(catalog.bands)) is None


def test_iter_leaves_of_a_field(catalog):
    assert [n.code for n in iter_leaves(catalog)] == [
        "1.1",
        "1.2",
        "1.3",
        "2.1",
        "2.2.1",
        "2.2.2",
    ]
    assert [n.code for n in iter_leaves(find_node(catalog, "2"))] == [
        "2.1",
        "2.2.1",
        "2.2.2",
    ]
    assert [n.code for n in iter_leaves(find_node(catalog, "1.3"))] == ["1.3"]


def test_clone_to_a_new_year(catalog):
    cloned = clone_catalog(catalog, 2024)
    assert cloned.year == 2024 and cloned.name == "Bộ tiêu chí CCHC cấp xã 2024"
    assert cloned.nodes == catalog.nodes and cloned.bands == catalog.bands
    assert catalog.year == 2023  # the original is untouched
    assert clone_catalog(catalog, 2025, name="Bộ mới").name == "Bộ mới"
    assert parse_catalog(catalog_to_dict(cloned)) == cloned
    with pytest.raises(CatalogInvalid):
        clone_catalog(catalog, 1800)


# --- the shipped sets --------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "unit_type", "year"),
    [
        ("commune-2023.yaml", "commune", 2023),
        ("department-2024.yaml", "department", 2024),
    ],
)
def test_shipped_sets_load_and_add_up(file, unit_type, year):
    shipped = load_shipped(file)
    leaves = list(iter_leaves(shipped))
    assert shipped.unit_type == unit_type and shipped.year == year
    assert 30 <= len(leaves) <= 40
    assert sum((n.max for n in shipped.nodes), Decimal(0)) == 100
    assert sum((leaf.max for leaf in leaves), Decimal(0)) == 100
    assert {type(leaf.rule) for leaf in leaves} == {
        OptionsRule,
        RatioRule,
        RangeRule,
        DeductionRule,
    }
    assert any(leaf.not_applicable_allowed for leaf in leaves)
    assert any(leaf.form_allowed for leaf in leaves)
    assert {leaf.evidence for leaf in leaves} == {"required", "optional", "none"}
    assert all(leaf.appraised_by for leaf in leaves)
    assert [(b.min, b.label) for b in shipped.bands] == [
        (90, "Xuất sắc"),
        (80, "Tốt"),
        (65, "Khá"),
        (50, "Trung bình"),
        (0, "Yếu"),
    ]
    assert catalog_from_xlsx(catalog_to_xlsx(shipped)) == shipped
    assert parse_catalog(catalog_to_dict(shipped)) == shipped
    # A unit with full marks everywhere scores 100.
    best = {leaf.code: leaf.max for leaf in leaves}
    full = compute_result(shipped, best)
    assert (full.total, full.max, full.index) == (100, 100, Decimal("100.00"))
    assert full.classification == "Xuất sắc"


def test_parents_settings_survive_an_xlsx_round_trip():
    data = sample()
    data["nodes"][0]["appraised_by"] = "SNV"
    for child in data["nodes"][0]["children"]:
        child.pop("appraised_by", None)
    catalog = parse_catalog(data)
    again = catalog_from_xlsx(catalog_to_xlsx(catalog))
    assert dict(again.nodes[0].settings) == {"appraised_by": "SNV"}
    assert {n.appraised_by for n in iter_leaves(again.nodes[0])} == {"SNV"}
