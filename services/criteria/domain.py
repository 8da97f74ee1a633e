"""Bộ tiêu chí (criteria set): its tree, validation, scoring, totals and XLSX form.

Pure functions on plain data: no I/O, no framework, no database. The service and
every other service that needs a score call into this module, so a scoring rule is
written once.

Scores are `Decimal` end to end: a total must be what a person adds by hand, which
binary floats cannot promise (0.1 + 0.2 != 0.3).
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import pairwise
from typing import Any, ClassVar

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from services.common import scoring

EVIDENCE_VALUES = ("required", "optional", "none")
RULE_KINDS = ("options", "ratio", "range", "deduction", "survey")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
MIN_YEAR, MAX_YEAR = 2000, 2100

CRITERIA_SHEET = "criteria"
META_SHEET = "meta"
XLSX_COLUMNS = (
    "code",
    "title",
    "max",
    "rule",
    "options",
    "step",
    "per_item",
    "evidence",
    "not_applicable_allowed",
    "appraised_by",
    "form_allowed",
)

_CODE_RE = re.compile(r"[1-9][0-9]*(\.[1-9][0-9]*)*")
_UNIT_TYPE_RE = re.compile(r"[a-z][a-z_]*")
_CATALOG_KEYS = {"name", "year", "unit_type", "bands", "nodes", "bonus_max", "penalty_max"}
_LEAF_ONLY_KEYS = {"rule", "form_allowed"}
# Real sets name the appraising department and the evidence rule once, on the
# criterion: a parent may carry these for every node under it; a child's own wins.
INHERITED_KEYS = ("evidence", "not_applicable_allowed", "appraised_by")
_NODE_KEYS = {"code", "title", "max", "children"} | _LEAF_ONLY_KEYS | set(INHERITED_KEYS)


# --- the model ---------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """Mức chấm điểm cố định (e.g. "Đúng thời hạn" = 1)."""

    label: str
    score: Decimal


@dataclass(frozen=True)
class OptionsRule:
    """Chấm theo mức: the unit picks one of fixed options."""

    kind: ClassVar[str] = "options"
    options: tuple[Option, ...]


@dataclass(frozen=True)
class RatioRule:
    """Chấm theo tỷ lệ: score = max × done / planned."""

    kind: ClassVar[str] = "ratio"


@dataclass(frozen=True)
class RangeRule:
    """Tự chấm trong khoảng: any multiple of step in [0, max]."""

    kind: ClassVar[str] = "range"
    step: Decimal


@dataclass(frozen=True)
class DeductionRule:
    """Chấm trừ điểm: max − per_item × count, never below 0."""

    kind: ClassVar[str] = "deduction"
    per_item: Decimal


@dataclass(frozen=True)
class SurveyRule:
    """Điểm điều tra xã hội học: entered by the admin from survey results, never by the unit."""

    kind: ClassVar[str] = "survey"


Rule = OptionsRule | RatioRule | RangeRule | DeductionRule | SurveyRule


@dataclass(frozen=True)
class Band:
    """Mức xếp loại (Xuất sắc, Tốt, Khá, ...) from an index threshold upwards."""

    min: Decimal
    label: str


@dataclass(frozen=True)
class Node:
    """Lĩnh vực / tiêu chí / tiêu chí thành phần.

    A node with children is a field or criterion whose maximum is the sum of its
    children; only leaves carry a rule and the per-criterion settings.
    """

    code: str
    title: str
    max: Decimal
    rule: Rule | None = None
    evidence: str = "optional"
    not_applicable_allowed: bool = False
    appraised_by: str | None = None
    form_allowed: bool = False
    children: tuple[Node, ...] = ()
    # On a parent: the settings it declares for the nodes under it (INHERITED_KEYS),
    # as written; its leaves carry the resolved values.
    settings: tuple[tuple[str, Any], ...] = ()

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class Catalog:
    """Bộ tiêu chí for one year and one unit type. Immutable: edits make a new set."""

    name: str
    year: int
    unit_type: str
    bands: tuple[Band, ...]
    nodes: tuple[Node, ...]
    # Điểm thưởng / điểm trừ: caps of the bonus and penalty points the admin may add.
    bonus_max: Decimal = Decimal(0)
    penalty_max: Decimal = Decimal(0)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a submitted criteria set (lỗi bộ tiêu chí)."""

    code: str
    path: str
    message: str


class CatalogInvalid(ValueError):
    """Bộ tiêu chí không hợp lệ: carries every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in self.problems))


class ScoreRejected(ValueError):
    """Điểm không hợp lệ: an entry the criterion's rule does not allow."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


# --- small value helpers -----------------------------------------------------


def _canonical(value: Decimal) -> Decimal:
    # "2.50", "2.5" and "25E-1" are one score; keep one spelling so that exports
    # read as a person wrote them and round trips compare equal.
    value = value.normalize()
    if value.is_zero():
        return Decimal(0)
    if value.as_tuple().exponent > 0:
        return Decimal(int(value))
    return value


# Numbers up to 10^15 (a plan counted in đồng) with at most 8 decimal places.
MAX_MAGNITUDE = 15
MAX_PLACES = 8


def _to_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from an int, Decimal, numeric string or float; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        # YAML, JSON and openpyxl hand us 0.25 as a float; its repr is the shortest
        # text that reads back to it, i.e. what the person typed.
        number = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # Vietnamese write 2,5 for 2.5
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    else:
        return None
    if not number.is_finite():
        return None
    # "1e9999999" is finite but no score, count or plan is that large (or that small):
    # refused here, before any arithmetic on it overflows (a 500) or underflows to 0.
    if number and not -MAX_PLACES <= number.adjusted() <= MAX_MAGNITUDE:
        return None
    return _canonical(number)


def _text(value: Any) -> str | None:
    """NFC-normalised, stripped text, or None when absent or empty.

    NFC because Vietnamese arrives both composed and decomposed (macOS, some
    keyboards) and the two must compare, sort and print the same.
    """
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFC", value).strip()
    return text or None


def _dec_str(value: Decimal) -> str:
    return format(value, "f")


# --- parsing and validation --------------------------------------------------

# Every problem code with its message, Vietnamese first as the pages show it.
PROBLEM_MESSAGES = {
    "not_a_mapping": "Dữ liệu không phải một đối tượng / not an object",
    "unknown_field": "Trường không được hỗ trợ / unknown field",
    "bad_text": "Văn bản chứa ký tự điều khiển / text contains control characters",
    "missing_name": "Thiếu tên bộ tiêu chí / missing name",
    "bad_year": "Năm không hợp lệ / invalid year",
    "bad_unit_type": "Loại đơn vị không hợp lệ (ví dụ commune, department) / "
    "invalid unit type (e.g. commune, department)",
    "no_bands": "Thiếu các mức xếp loại / no bands",
    "bad_band": "Mức xếp loại cần ngưỡng (min) và tên (label) / "
    "a band needs a numeric min and a label",
    "band_out_of_range": "Ngưỡng xếp loại phải trong khoảng 0–100 / "
    "band min must be within 0..100",
    "duplicate_band": "Tên mức xếp loại trùng / duplicate band",
    "bands_unsorted": "Các mức xếp loại phải theo ngưỡng giảm dần, không trùng / "
    "bands must be in strictly descending order of min",
    "bands_no_floor": "Mức thấp nhất phải có ngưỡng 0 / "
    "the lowest band must start at 0",
    "no_nodes": "Bộ tiêu chí không có lĩnh vực nào / no nodes",
    "bad_node": "Tiêu chí không hợp lệ / invalid node",
    "missing_code": "Thiếu mã tiêu chí / missing code",
    "bad_code": "Mã tiêu chí phải là chuỗi dạng 1, 1.2, 1.2.3 (đặt trong ngoặc kép) / "
    "code must be a quoted string like 1, 1.2, 1.2.3",
    "duplicate_code": "Mã tiêu chí trùng lặp / duplicate code",
    "code_not_under_parent": "Mã tiêu chí không thuộc tiêu chí cha (cần {expected}) / "
    "code does not fit its parent (expected {expected})",
    "missing_title": "Thiếu tên tiêu chí / missing title",
    "missing_max": "Thiếu điểm tối đa / missing max",
    "bad_max": "Điểm tối đa phải là số dương / max must be a positive number",
    "children_sum_mismatch": "Tổng điểm tiêu chí con ({total}) khác điểm tối đa "
    "({max}) / children add up to {total}, not {max}",
    "rule_on_parent": "Tiêu chí có tiêu chí con không có cách chấm điểm riêng / "
    "a node with children has no rule",
    "leaf_field_on_parent": "Tiêu chí có tiêu chí con không mang thuộc tính chấm "
    "điểm / a node with children carries no scoring setting",
    "missing_rule": "Tiêu chí thiếu cách chấm điểm / leaf without a rule",
    "bad_cap": "Điểm thưởng / điểm trừ tối đa phải là số không âm / "
    "bonus_max and penalty_max must be non-negative numbers",
    "unknown_rule": "Cách chấm điểm không hợp lệ (options, ratio, range, deduction, survey) / "
    "unknown rule kind (options, ratio, range, deduction)",
    "no_options": "Thiếu các mức chấm điểm / no options",
    "bad_option": "Mức chấm điểm cần tên (label) và điểm (score) / "
    "an option needs a label and a numeric score",
    "duplicate_option": "Tên mức chấm điểm trùng / duplicate option",
    "option_below_zero": "Điểm của mức bị âm / option score below 0",
    "option_above_max": "Điểm của mức vượt điểm tối đa {max} / "
    "option score above max {max}",
    "bad_step": "Bước điểm phải dương và chia hết điểm tối đa / "
    "step must be positive and divide max",
    "bad_per_item": "Điểm trừ mỗi lần phải dương và không quá điểm tối đa / "
    "per_item must be positive and at most max",
    "unknown_evidence": "Yêu cầu tài liệu kiểm chứng không hợp lệ (required, optional, "
    "none) / unknown evidence value (required, optional, none)",
    "bad_flag": "Giá trị phải là true hoặc false / value must be true or false",
    "bad_appraised_by": "Mã cơ quan thẩm định không hợp lệ / "
    "invalid appraising department code",
    "bad_xlsx": "Tệp không phải Excel hợp lệ / not a valid XLSX file",
    "xlsx_too_large": "Tệp Excel giải nén quá lớn / the XLSX unpacks past the limit",
    "missing_sheet": f"Thiếu sheet {CRITERIA_SHEET!r} hoặc {META_SHEET!r} / "
    f"missing sheet {CRITERIA_SHEET!r} or {META_SHEET!r}",
    "missing_column": "Thiếu cột / missing column",
    "no_parent_row": "Không có dòng tiêu chí cha / no row for the parent code",
}


def _problem(code: str, path: str, subject: Any = None, **values: Any) -> Problem:
    message = PROBLEM_MESSAGES[code].format(**values)
    if subject is not None and subject != "":
        message += f": {subject}"
    return Problem(code=code, path=path, message=message)


class _Parser:
    """Walks a submitted set and records every problem instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.seen_codes: set[str] = set()

    def report(self, code: str, path: str, subject: Any = None, **values: Any) -> None:
        self.problems.append(_problem(code, path, subject, **values))

    def unknown_keys(
        self, data: Mapping[str, Any], allowed: set[str], path: str
    ) -> None:
        for key in data:
            if key not in allowed:
                self.report("unknown_field", path, f"{path}.{key}" if path else key)

    def text(self, value: Any, path: str) -> str | None:
        text = _text(value)
        if text is not None and ILLEGAL_CHARACTERS_RE.search(text):
            self.report("bad_text", path, path)
        return text

    def catalog(self, data: Any) -> Catalog:
        if not isinstance(data, Mapping):
            self.report("not_a_mapping", "")
            return Catalog("", 0, "", (), ())
        self.unknown_keys(data, _CATALOG_KEYS, "")

        name = self.text(data.get("name"), "name")
        if name is None:
            self.report("missing_name", "name")

        year = data.get("year")
        if not _is_year(year):
            self.report("bad_year", "year", year)
            year = 0

        unit_type = _text(data.get("unit_type"))
        if unit_type is None or not _UNIT_TYPE_RE.fullmatch(unit_type):
            self.report("bad_unit_type", "unit_type", data.get("unit_type"))

        bands = self.bands(data.get("bands"))

        raw_nodes = data.get("nodes")
        nodes: tuple[Node, ...] = ()
        if not isinstance(raw_nodes, list) or not raw_nodes:
            self.report("no_nodes", "nodes")
        else:
            nodes = tuple(
                self.node(raw, f"nodes[{i}]", parent_code="")
                for i, raw in enumerate(raw_nodes)
            )
        caps = {}
        for key in ("bonus_max", "penalty_max"):
            cap = _to_decimal(data.get(key, 0))
            if cap is None or cap < 0:
                self.report("bad_cap", key, data.get(key))
                cap = Decimal(0)
            caps[key] = cap
        return Catalog(name or "", year, unit_type or "", bands, nodes, **caps)

    def bands(self, raw: Any) -> tuple[Band, ...]:
        if not isinstance(raw, list) or not raw:
            self.report("no_bands", "bands")
            return ()
        bands: list[Band] = []
        for i, item in enumerate(raw):
            path = f"bands[{i}]"
            if not isinstance(item, Mapping):
                self.report("bad_band", path, path)
                continue
            self.unknown_keys(item, {"min", "label"}, path)
            label = self.text(item.get("label"), path)
            threshold = _to_decimal(item.get("min"))
            if label is None or threshold is None:
                self.report("bad_band", path, path)
                continue
            if not (0 <= threshold <= HUNDRED):
                self.report("band_out_of_range", path, f"{label} {threshold}")
            bands.append(Band(threshold, label))

        labels = [b.label for b in bands]
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            self.report("duplicate_band", "bands", label)
        mins = [b.min for b in bands]
        if any(a <= b for a, b in pairwise(mins)):
            self.report("bands_unsorted", "bands")
        if bands and min(mins) != 0:
            # Without a band at 0 some index would have no classification at all.
            self.report("bands_no_floor", "bands")
        return tuple(bands)

    def node(self, raw: Any, position: str, parent_code: str | None,
             inherited: Mapping[str, Any] | None = None) -> Node:
        """Parse one node; parent_code "" is the root, None an unreadable parent.

        ``inherited``: the settings the node's ancestors declared (INHERITED_KEYS).
        """
        if not isinstance(raw, Mapping):
            self.report("bad_node", position, position)
            return Node("", "", Decimal(0))

        raw_code = raw.get("code")
        code = _text(raw_code) if isinstance(raw_code, str) else None
        where = code or position
        self.unknown_keys(raw, _NODE_KEYS, where)

        if raw_code is None or (isinstance(raw_code, str) and code is None):
            self.report("missing_code", where, position)
        elif code is None or not _CODE_RE.fullmatch(code):
            # Unquoted YAML reads 2.10 as the float 2.1: refuse rather than guess.
            self.report("bad_code", where, raw_code)
            code = None
        else:
            if code in self.seen_codes:
                self.report("duplicate_code", code, code)
            self.seen_codes.add(code)
            if parent_code is not None and not _fits_parent(code, parent_code):
                expected = f"{parent_code}.<n>" if parent_code else "<n>"
                self.report("code_not_under_parent", code, code, expected=expected)

        title = self.text(raw.get("title"), where)
        if title is None:
            self.report("missing_title", where, where)

        maximum: Decimal | None = None
        if raw.get("max") is None:
            self.report("missing_max", where, where)
        else:
            maximum = _to_decimal(raw.get("max"))
            if maximum is None or maximum <= 0:
                self.report("bad_max", where, f"{where} = {raw.get('max')}")
                maximum = None

        raw_children = raw.get("children")
        if raw_children is not None and not isinstance(raw_children, list):
            self.report("bad_node", where, f"{where}.children")
            raw_children = None
        if raw_children:
            return self.parent(raw, where, code, title, maximum, raw_children,
                               inherited or {})
        return self.leaf(raw, where, code, title, maximum, inherited or {})

    def parent(
        self,
        raw: Mapping[str, Any],
        where: str,
        code: str | None,
        title: str | None,
        maximum: Decimal | None,
        raw_children: list[Any],
        inherited: Mapping[str, Any],
    ) -> Node:
        for key in sorted(_LEAF_ONLY_KEYS & set(raw)):
            # A rule or a form belongs to what is scored, never to a group of criteria.
            problem = "rule_on_parent" if key == "rule" else "leaf_field_on_parent"
            self.report(problem, where, f"{where}.{key}")
        own = self.settings(raw, where)
        below = {**inherited, **own}
        children = tuple(
            self.node(child, f"{where}.children[{i}]", parent_code=code, inherited=below)
            for i, child in enumerate(raw_children)
        )
        child_maxima = [
            _to_decimal(c.get("max")) if isinstance(c, Mapping) else None
            for c in raw_children
        ]
        # An unreadable child maximum is reported already; a sum would only add noise.
        if maximum is not None and all(m is not None and m > 0 for m in child_maxima):
            total = sum(child_maxima, Decimal(0))
            if total != maximum:
                self.report(
                    "children_sum_mismatch",
                    where,
                    where,
                    total=_dec_str(total),
                    max=_dec_str(maximum),
                )
        return Node(code or "", title or "", maximum or Decimal(0), children=children,
                    settings=tuple((k, own[k]) for k in INHERITED_KEYS if k in own))

    def settings(self, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The INHERITED_KEYS this node itself declares, validated; absent keys left out."""
        found: dict[str, Any] = {}
        if "evidence" in raw:
            evidence = raw["evidence"]
            if evidence not in EVIDENCE_VALUES:
                self.report("unknown_evidence", where, f"{where} = {evidence}")
            else:
                found["evidence"] = evidence
        if "not_applicable_allowed" in raw:
            value = raw["not_applicable_allowed"]
            if not isinstance(value, bool):
                self.report("bad_flag", where, f"{where}.not_applicable_allowed = {value}")
            else:
                found["not_applicable_allowed"] = value
        if raw.get("appraised_by") is not None:
            appraised_by = self.text(raw["appraised_by"], where)
            if appraised_by is None:
                self.report("bad_appraised_by", where, where)
            else:
                found["appraised_by"] = appraised_by
        return found

    def leaf(
        self,
        raw: Mapping[str, Any],
        where: str,
        code: str | None,
        title: str | None,
        maximum: Decimal | None,
        inherited: Mapping[str, Any],
    ) -> Node:
        rule = self.rule(raw.get("rule"), where, maximum)
        # Its own value, else the nearest ancestor's, else the default.
        resolved = {"evidence": "optional", "not_applicable_allowed": False,
                    "appraised_by": None, **inherited, **self.settings(raw, where)}

        form_allowed = raw.get("form_allowed", False)
        if not isinstance(form_allowed, bool):
            self.report("bad_flag", where, f"{where}.form_allowed = {form_allowed}")
            form_allowed = False

        return Node(
            code or "",
            title or "",
            maximum or Decimal(0),
            rule=rule,
            form_allowed=form_allowed,
            **resolved,
        )

    def rule(self, raw: Any, where: str, maximum: Decimal | None) -> Rule | None:
        if raw is None:
            self.report("missing_rule", where, where)
            return None
        kind = raw.get("kind") if isinstance(raw, Mapping) else None
        if kind not in RULE_KINDS:
            shown = kind if isinstance(raw, Mapping) else raw
            self.report("unknown_rule", where, f"{where} = {shown}")
            return None
        params = {"options": {"options"}, "range": {"step"}, "deduction": {"per_item"}}
        self.unknown_keys(raw, {"kind"} | params.get(kind, set()), f"{where}.rule")

        if kind == "ratio":
            return RatioRule()
        if kind == "survey":
            return SurveyRule()
        if kind == "options":
            return self.options_rule(raw.get("options"), where, maximum)
        if kind == "range":
            step = _to_decimal(raw.get("step"))
            if step is None or step <= 0 or (maximum and maximum % step != 0):
                self.report("bad_step", where, f"{where}: step {raw.get('step')}")
                return None
            return RangeRule(step)
        per_item = _to_decimal(raw.get("per_item"))
        if per_item is None or per_item <= 0 or (maximum and per_item > maximum):
            self.report(
                "bad_per_item", where, f"{where}: per_item {raw.get('per_item')}"
            )
            return None
        return DeductionRule(per_item)

    def options_rule(
        self, raw: Any, where: str, maximum: Decimal | None
    ) -> OptionsRule | None:
        if not isinstance(raw, list) or not raw:
            self.report("no_options", where, where)
            return None
        options: list[Option] = []
        for i, item in enumerate(raw):
            path = f"{where}.options[{i}]"
            if not isinstance(item, Mapping):
                self.report("bad_option", where, path)
                continue
            self.unknown_keys(item, {"label", "score"}, path)
            label = self.text(item.get("label"), path)
            score = _to_decimal(item.get("score"))
            if label is None or score is None:
                self.report("bad_option", where, path)
                continue
            shown = f"{where}: {label} = {_dec_str(score)}"
            if score < 0:
                self.report("option_below_zero", where, shown)
            elif maximum is not None and score > maximum:
                self.report("option_above_max", where, shown, max=_dec_str(maximum))
            if any(o.label == label for o in options):
                self.report("duplicate_option", where, f"{where}: {label}")
            options.append(Option(label, score))
        return OptionsRule(tuple(options))


def _is_year(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and MIN_YEAR <= value <= MAX_YEAR
    )


def _fits_parent(code: str, parent_code: str) -> bool:
    if not parent_code:
        return "." not in code
    head, _, tail = code.rpartition(".")
    return head == parent_code and bool(tail)


def parse_catalog(data: Mapping[str, Any]) -> Catalog:
    """Đọc và kiểm tra bộ tiêu chí from its dict form (parsed JSON or YAML).

    Numbers may come as JSON numbers or strings. Raises `CatalogInvalid` listing
    every problem at once, so an admin fixes a spreadsheet in one pass.
    """
    parser = _Parser()
    catalog = parser.catalog(data)
    if parser.problems:
        raise CatalogInvalid(parser.problems)
    return catalog


def _rule_to_dict(rule: Rule) -> dict[str, Any]:
    if isinstance(rule, OptionsRule):
        return {
            "kind": rule.kind,
            "options": [
                {"label": o.label, "score": _dec_str(o.score)} for o in rule.options
            ],
        }
    if isinstance(rule, RangeRule):
        return {"kind": rule.kind, "step": _dec_str(rule.step)}
    if isinstance(rule, DeductionRule):
        return {"kind": rule.kind, "per_item": _dec_str(rule.per_item)}
    return {"kind": rule.kind}


def _node_to_dict(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": node.code,
        "title": node.title,
        "max": _dec_str(node.max),
    }
    if node.children:
        out.update(node.settings)
        out["children"] = [_node_to_dict(c) for c in node.children]
        return out
    out["rule"] = _rule_to_dict(node.rule) if node.rule is not None else None
    out["evidence"] = node.evidence
    out["not_applicable_allowed"] = node.not_applicable_allowed
    out["appraised_by"] = node.appraised_by
    out["form_allowed"] = node.form_allowed
    return out


def catalog_to_dict(catalog: Catalog) -> dict[str, Any]:
    """Bộ tiêu chí as JSON-safe data; decimals as strings ("2.5"), never floats."""
    return {
        "name": catalog.name,
        "year": catalog.year,
        "unit_type": catalog.unit_type,
        "bands": [{"min": _dec_str(b.min), "label": b.label} for b in catalog.bands],
        "nodes": [_node_to_dict(n) for n in catalog.nodes],
        "bonus_max": _dec_str(catalog.bonus_max),
        "penalty_max": _dec_str(catalog.penalty_max),
    }


# --- walking the tree --------------------------------------------------------


def _walk(nodes: Sequence[Node], depth: int = 0) -> Iterator[tuple[Node, int]]:
    for node in nodes:
        yield node, depth
        yield from _walk(node.children, depth + 1)


def iter_leaves(root: Catalog | Node) -> Iterator[Node]:
    """Các tiêu chí được chấm điểm (scorable leaves) under a set or a node, in order."""
    nodes = root.nodes if isinstance(root, Catalog) else (root,)
    return (node for node, _ in _walk(nodes) if node.is_leaf)


def find_node(catalog: Catalog, code: str) -> Node | None:
    """Tìm tiêu chí theo mã (find a node by its code)."""
    return next((node for node, _ in _walk(catalog.nodes) if node.code == code), None)


def clone_catalog(catalog: Catalog, year: int, name: str | None = None) -> Catalog:
    """Nhân bản bộ tiêu chí sang năm mới (clone a set to a new year).

    Without a new name, the old year inside the name is replaced by the new one.
    """
    if not _is_year(year):
        raise CatalogInvalid([_problem("bad_year", "year", year)])
    if name is None:
        name = catalog.name.replace(str(catalog.year), str(year))
    return replace(catalog, year=year, name=name)


# --- scoring -----------------------------------------------------------------


def _input_number(inp: Mapping[str, Any], key: str) -> Decimal:
    if inp.get(key) is None:
        raise ScoreRejected("missing_input", f"Thiếu giá trị / missing value: {key}")
    number = _to_decimal(inp[key])
    if number is None:
        raise ScoreRejected(
            "not_a_number",
            f"Giá trị phải là số, không quá {MAX_MAGNITUDE} chữ số phần nguyên và "
            f"{MAX_PLACES} chữ số thập phân / must be a number of at most "
            f"{MAX_MAGNITUDE} digits and {MAX_PLACES} decimal places: {key}",
        )
    if number < 0:
        raise ScoreRejected(
            "negative", f"Giá trị không được âm / must not be negative: {key}"
        )
    return number


def _score_option(node: Node, rule: OptionsRule, inp: Mapping[str, Any]) -> Decimal:
    choice = inp.get("option")
    labels = ", ".join(o.label for o in rule.options)
    if choice is None and inp.get("self_score") is not None:
        return _option_by_score(node, rule, inp)
    if choice is None:
        raise ScoreRejected("missing_input", "Thiếu mức chọn / missing value: option")
    if isinstance(choice, int) and not isinstance(choice, bool):
        if 0 <= choice < len(rule.options):
            return rule.options[choice].score
    elif isinstance(choice, str):
        label = _text(choice)
        for option in rule.options:
            if option.label == label:
                return option.score
    raise ScoreRejected(
        "unknown_option",
        f"Mức chọn không có trong tiêu chí {node.code} / "
        f"unknown option ({labels}): {choice!r}",
    )


def _option_by_score(node: Node, rule: OptionsRule, inp: Mapping[str, Any]) -> Decimal:
    """``self_score`` on an options criterion: the option that gives exactly that score.

    API.md lists ``self_score`` for every rule; it names an option only when exactly
    one option gives it (two options with one score would leave the choice unsaid).
    """
    score = _input_number(inp, "self_score")
    matching = [o for o in rule.options if o.score == score]
    scores = ", ".join(f"{o.label} = {_dec_str(o.score)}" for o in rule.options)
    if len(matching) == 1:
        return matching[0].score
    if not matching:
        raise ScoreRejected(
            "not_an_option_score",
            f"Không mức nào của tiêu chí {node.code} cho {_dec_str(score)} điểm ({scores}) / "
            f"no option of {node.code} gives {_dec_str(score)}",
        )
    raise ScoreRejected(
        "ambiguous_option_score",
        f"Nhiều mức của tiêu chí {node.code} cho {_dec_str(score)} điểm; hãy chọn mức "
        f"(option) / several options of {node.code} give {_dec_str(score)}; send the "
        f"option: {', '.join(o.label for o in matching)}",
    )


def _score_ratio(node: Node, inp: Mapping[str, Any]) -> Decimal:
    done = _input_number(inp, "done")
    planned = _input_number(inp, "planned")
    if planned == 0:
        # Nothing planned is not 0 % done: the criterion did not arise this year.
        raise ScoreRejected(
            "planned_zero",
            "Số kế hoạch phải lớn hơn 0; nếu năm nay không phát sinh nhiệm vụ, "
            "hãy đánh dấu không áp dụng / planned must be > 0; if nothing was "
            "planned, mark the criterion not applicable",
        )
    if done > planned:
        # "Done of planned" cannot exceed what was planned: a unit that did more
        # enters the plan's number as done (the maximum), not a ratio above 100 %.
        raise ScoreRejected(
            "done_above_planned",
            f"Số đã thực hiện ({_dec_str(done)}) không được lớn hơn số kế hoạch "
            f"({_dec_str(planned)}) / done ({_dec_str(done)}) cannot exceed planned "
            f"({_dec_str(planned)})",
        )
    ratio = done / planned
    # Two decimals because that is what the summary table shows and what a person adds
    # by hand; HALF_UP because that is the rounding people do (Python's default
    # HALF_EVEN would give 0.125 -> 0.12 where the council writes 0.13).
    return (node.max * ratio).quantize(CENT, rounding=ROUND_HALF_UP)


def _score_range(node: Node, rule: RangeRule, inp: Mapping[str, Any]) -> Decimal:
    score = _input_number(inp, "self_score")
    if score > node.max:
        raise ScoreRejected(
            "above_max",
            f"Điểm vượt điểm tối đa / above max {_dec_str(node.max)}: "
            f"{_dec_str(score)}",
        )
    if score % rule.step != 0:
        raise ScoreRejected(
            "not_multiple_of_step",
            f"Điểm phải là bội số của {_dec_str(rule.step)} / must be a multiple of "
            f"{_dec_str(rule.step)}: {_dec_str(score)}",
        )
    return score


def _score_deduction(
    node: Node, rule: DeductionRule, inp: Mapping[str, Any]
) -> Decimal:
    count = _input_number(inp, "count")
    if count != count.to_integral_value():
        raise ScoreRejected(
            "not_integer",
            f"Số lần vi phạm phải là số nguyên / count must be an integer: {count}",
        )
    return _canonical(max(node.max - rule.per_item * count, Decimal(0)))


def score_entry(node: Node, inp: Mapping[str, Any]) -> Decimal:
    """Tính điểm một tiêu chí from what the unit entered, by the node's rule.

    Inputs: options → `option` (label, or 0-based index); ratio → `done` and
    `planned`; range → `self_score`; deduction → `count`. Other keys are ignored.
    Raises `ScoreRejected` with a machine code and a Vietnamese/English reason.
    """
    rule = node.rule
    if isinstance(rule, OptionsRule):
        return _score_option(node, rule, inp)
    if isinstance(rule, RatioRule):
        return _score_ratio(node, inp)
    if isinstance(rule, RangeRule):
        return _score_range(node, rule, inp)
    if isinstance(rule, DeductionRule):
        return _score_deduction(node, rule, inp)
    if isinstance(rule, SurveyRule):
        raise ScoreRejected(
            "survey_by_admin",
            f"Tiêu chí {node.code} do Sở Nội vụ chấm từ kết quả điều tra / "
            f"criterion {node.code} is scored by the admin from survey results",
        )
    raise ScoreRejected(
        "not_scorable",
        f"Tiêu chí {node.code} không chấm điểm trực tiếp (có tiêu chí con) / "
        f"node {node.code} is not scorable",
    )


# --- totals and classification -----------------------------------------------


def _applicable_leaves(catalog: Catalog, not_applicable: Collection[str]) -> list[Node]:
    known = {node.code for node, _ in _walk(catalog.nodes)}
    unknown = sorted(set(not_applicable) - known)
    if unknown:
        raise ScoreRejected(
            "unknown_code", f"Mã tiêu chí không có / unknown code: {', '.join(unknown)}"
        )
    applicable: list[Node] = []

    def visit(nodes: Sequence[Node], excluded: bool) -> None:
        for node in nodes:
            # Marking a field not applicable marks everything under it.
            node_excluded = excluded or node.code in not_applicable
            if node.children:
                visit(node.children, node_excluded)
            elif not node_excluded:
                applicable.append(node)
            elif not node.not_applicable_allowed:
                raise ScoreRejected(
                    "not_applicable_not_allowed",
                    f"Tiêu chí không được đánh dấu không áp dụng / "
                    f"criterion may not be marked not applicable: {node.code}",
                )

    visit(catalog.nodes, False)
    return applicable


def applicable_max(
    catalog: Catalog, not_applicable: Collection[str] = frozenset()
) -> Decimal:
    """Điểm tối đa của các tiêu chí có phát sinh nhiệm vụ (applicable maximum)."""
    return sum(
        (leaf.max for leaf in _applicable_leaves(catalog, not_applicable)), Decimal(0)
    )


def compute_result(
    catalog: Catalog,
    scores: Mapping[str, Decimal | None],
    not_applicable: Collection[str] = frozenset(),
) -> scoring.Result:
    """Tổng điểm, Chỉ số CCHC và xếp loại of these scores (services/common/scoring.py).

    Checks what only the set knows: every code is a scorable criterion, every score
    within its maximum, not-applicable marks allowed. Not-applicable leaves leave both
    the total and the maximum; a missing or None score counts 0. Scores of
    not-applicable leaves are ignored, since an entry keeps its old score when later
    flagged. The index is None when nothing applies.
    """
    leaves = {leaf.code: leaf for leaf in iter_leaves(catalog)}
    unknown = sorted(set(scores) - set(leaves))
    if unknown:
        raise ScoreRejected(
            "unknown_code",
            "Không phải mã tiêu chí chấm điểm / not a scorable code: "
            + ", ".join(unknown),
        )
    lines = []
    for leaf in _applicable_leaves(catalog, not_applicable):
        raw = scores.get(leaf.code)
        score = None if raw is None else _to_decimal(raw)
        if raw is not None and (score is None or not (0 <= score <= leaf.max)):
            raise ScoreRejected(
                "score_out_of_range",
                f"Điểm ngoài khoảng 0–{_dec_str(leaf.max)} / score outside "
                f"0..{_dec_str(leaf.max)}: {leaf.code} = {raw}",
            )
        lines.append(scoring.Line(score, leaf.max))
    return scoring.result(lines, bands_as_rows(catalog.bands))


def bands_as_rows(bands: Sequence[Band]) -> list[dict[str, Any]]:
    """The bands as campaigns copy them and services/common/scoring.py reads them."""
    return [{"min": band.min, "label": band.label} for band in bands]


# --- XLSX --------------------------------------------------------------------


def _escape_label(label: str) -> str:
    return label.replace("\\", "\\\\").replace(";", "\\;")


def _split_options(text: str) -> list[str]:
    """Split "a=1; b\\;c=0.5" on unescaped semicolons, unescaping as it goes."""
    items, current, chars = [], [], iter(text)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ";":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _xlsx_text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", unicodedata.normalize("NFC", value))


def _append_row(sheet: Any, values: Sequence[Any]) -> None:
    sheet.append([_xlsx_text(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        # Text a unit typed as "=HYPERLINK(...)" must stay text, not become a formula.
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"


def _parent_row(node: Node) -> list[Any]:
    """A parent's row: only the settings it declares for the nodes under it."""
    declared = dict(node.settings)
    return [None, None, None, None, declared.get("evidence"),
            declared.get("not_applicable_allowed"), declared.get("appraised_by"), None]


def _leaf_row(node: Node) -> list[Any]:
    rule = node.rule
    options = step = per_item = None
    if isinstance(rule, OptionsRule):
        options = "; ".join(
            f"{_escape_label(o.label)}={_dec_str(o.score)}" for o in rule.options
        )
    elif isinstance(rule, RangeRule):
        step = rule.step
    elif isinstance(rule, DeductionRule):
        per_item = rule.per_item
    return [
        rule.kind if rule else None,
        options,
        step,
        per_item,
        node.evidence,
        node.not_applicable_allowed,
        node.appraised_by,
        node.form_allowed,
    ]


def catalog_to_xlsx(catalog: Catalog) -> bytes:
    """Xuất bộ tiêu chí ra Excel: sheet "criteria" (one row per node) and "meta"."""
    book = Workbook()
    sheet = book.active
    sheet.title = CRITERIA_SHEET
    _append_row(sheet, XLSX_COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for node, depth in _walk(catalog.nodes):
        row = [node.code, node.title, node.max]
        row += _parent_row(node) if node.children else _leaf_row(node)
        _append_row(sheet, row)
        sheet.cell(sheet.max_row, 2).alignment = Alignment(indent=depth, wrap_text=True)
        if node.children:
            for cell in sheet[sheet.max_row][:3]:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDE", (10, 70, 8, 11, 45), strict=True):
        sheet.column_dimensions[letter].width = width

    meta = book.create_sheet(META_SHEET)
    _append_row(meta, ["name", catalog.name])
    _append_row(meta, ["year", catalog.year])
    _append_row(meta, ["unit_type", catalog.unit_type])
    for band in catalog.bands:
        _append_row(meta, ["band", band.min, band.label])

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell_code(value: Any) -> Any:
    # A code typed into a General cell arrives as a number; keep its written form.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return value


def _cell_flag(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def _cell_year(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _row_to_node(row: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "code": _cell_code(row.get("code")),
        "title": row.get("title"),
        "max": row.get("max"),
    }
    kind = row.get("rule")
    if kind is not None:
        rule: dict[str, Any] = {"kind": _text(kind) if isinstance(kind, str) else kind}
        if row.get("options") is not None:
            rule["options"] = [
                {"label": label, "score": score}
                for label, _, score in (
                    item.rpartition("=") for item in _split_options(str(row["options"]))
                )
            ]
        for key in ("step", "per_item"):
            if row.get(key) is not None:
                rule[key] = row[key]
        node["rule"] = rule
    for key in ("evidence", "appraised_by"):
        if row.get(key) is not None:
            node[key] = _text(row[key]) if isinstance(row[key], str) else row[key]
    for key in ("not_applicable_allowed", "form_allowed"):
        if row.get(key) is not None:
            node[key] = _cell_flag(row[key])
    return node


# An XLSX is a zip: a 2 MB upload can unpack to gigabytes (shared strings are read
# whole into memory). A real criteria set unpacks to well under a megabyte.
XLSX_MAX_UNPACKED_BYTES = 32 * 1024 * 1024
XLSX_MAX_MEMBERS = 256


def _refuse_zip_bomb(data: bytes) -> None:
    """Refuses a workbook whose parts would unpack past the caps, before reading any.

    ``zipfile`` never yields more than a member's declared size (a member that unpacks
    to more fails its check), so the declared sizes are a safe bound.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CatalogInvalid([_problem("bad_xlsx", "", type(exc).__name__)]) from exc
    unpacked = sum(m.file_size for m in members)
    if len(members) > XLSX_MAX_MEMBERS or unpacked > XLSX_MAX_UNPACKED_BYTES:
        raise CatalogInvalid([_problem("xlsx_too_large", "",
                                       f"{len(members)} parts, {unpacked} bytes unpacked")])


def catalog_from_xlsx(data: bytes) -> Catalog:
    """Nhập bộ tiêu chí từ Excel, as written by `catalog_to_xlsx`.

    The tree is rebuilt from the codes (2.3 goes under 2), rows in any order; the
    same validation as `parse_catalog` applies and every problem is listed.
    """
    _refuse_zip_bomb(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # any malformed upload is bad input, never a crash
        raise CatalogInvalid([_problem("bad_xlsx", "", type(exc).__name__)]) from exc
    try:
        if CRITERIA_SHEET not in book.sheetnames or META_SHEET not in book.sheetnames:
            raise CatalogInvalid([_problem("missing_sheet", "")])
        criteria_rows = list(book[CRITERIA_SHEET].iter_rows(values_only=True))
        meta_rows = list(book[META_SHEET].iter_rows(values_only=True))
    finally:
        book.close()

    problems: list[Problem] = []
    header = [
        str(h).strip().lower() if h is not None else ""
        for h in (criteria_rows[0] if criteria_rows else ())
    ]
    for column in ("code", "title", "max"):
        if column not in header:
            problems.append(_problem("missing_column", CRITERIA_SHEET, column))

    flat: list[tuple[int, dict[str, Any]]] = []
    for number, values in enumerate(criteria_rows[1:], start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        row = dict(zip(header, values, strict=False))
        flat.append((number, _row_to_node(row)))

    # First occurrence wins, so a duplicated code still reaches the validator.
    by_code: dict[str, dict[str, Any]] = {}
    for _, node in flat:
        if isinstance(node["code"], str):
            by_code.setdefault(node["code"].strip(), node)
    roots: list[dict[str, Any]] = []
    for number, node in flat:
        code = node["code"].strip() if isinstance(node["code"], str) else ""
        parent_code = code.rpartition(".")[0]
        if not parent_code:
            roots.append(node)
        elif parent_code in by_code:
            by_code[parent_code].setdefault("children", []).append(node)
        else:
            problems.append(
                _problem("no_parent_row", f"{CRITERIA_SHEET}!A{number}", code)
            )

    try:
        catalog = parse_catalog({**_meta_from_rows(meta_rows), "nodes": roots})
    except CatalogInvalid as invalid:
        problems.extend(invalid.problems)
    if problems:
        raise CatalogInvalid(problems)
    return catalog


def _meta_from_rows(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    meta: dict[str, Any] = {"bands": []}
    for values in rows:
        cells = [*values, None, None, None]
        key = str(cells[0]).strip() if cells[0] is not None else ""
        if key == "band":
            meta["bands"].append({"min": cells[1], "label": cells[2]})
        elif key in ("name", "year", "unit_type"):
            meta[key] = cells[1]
    meta["year"] = _cell_year(meta.get("year"))
    return meta
