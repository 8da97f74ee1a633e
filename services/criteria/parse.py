"""Reading a criteria set (YAML/JSON shape of API.md) into the model, with every problem
found reported at once (lỗi bộ tiêu chí), and cloning a set to a new year. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from itertools import pairwise
from typing import Any

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from services.criteria.catalog import (
    EVIDENCE_VALUES,
    HUNDRED,
    MAX_YEAR,
    MIN_YEAR,
    RULE_KINDS,
    Band,
    Catalog,
    CatalogInvalid,
    DeductionRule,
    Node,
    Option,
    OptionsRule,
    Problem,
    RangeRule,
    RatioRule,
    Rule,
    SurveyRule,
    clean_text,
    decimal_text,
    to_decimal,
)
from services.criteria.problems import problem

_CODE_RE = re.compile(r"[1-9][0-9]*(\.[1-9][0-9]*)*")
_UNIT_TYPE_RE = re.compile(r"[a-z][a-z_]*")
_CATALOG_KEYS = {"name", "year", "unit_type", "bands", "nodes", "bonus_max", "penalty_max"}
_LEAF_ONLY_KEYS = {"rule", "form_allowed"}
# Real sets name the appraising department and the evidence rule once, on the
# criterion: a parent may carry these for every node under it; a child's own wins.
INHERITED_KEYS = ("evidence", "not_applicable_allowed", "appraised_by")
_NODE_KEYS = {"code", "title", "max", "children"} | _LEAF_ONLY_KEYS | set(INHERITED_KEYS)




class _Parser:
    """Walks a submitted set and records every problem instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.seen_codes: set[str] = set()

    def report(self, code: str, path: str, subject: Any = None, **values: Any) -> None:
        self.problems.append(problem(code, path, subject, **values))

    def unknown_keys(
        self, data: Mapping[str, Any], allowed: set[str], path: str
    ) -> None:
        for key in data:
            if key not in allowed:
                self.report("unknown_field", path, f"{path}.{key}" if path else key)

    def text(self, value: Any, path: str) -> str | None:
        text = clean_text(value)
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

        unit_type = clean_text(data.get("unit_type"))
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
            cap = to_decimal(data.get(key, 0))
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
            threshold = to_decimal(item.get("min"))
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
        code = clean_text(raw_code) if isinstance(raw_code, str) else None
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
            maximum = to_decimal(raw.get("max"))
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
            to_decimal(c.get("max")) if isinstance(c, Mapping) else None
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
                    total=decimal_text(total),
                    max=decimal_text(maximum),
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
            step = to_decimal(raw.get("step"))
            if step is None or step <= 0 or (maximum and maximum % step != 0):
                self.report("bad_step", where, f"{where}: step {raw.get('step')}")
                return None
            return RangeRule(step)
        per_item = to_decimal(raw.get("per_item"))
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
            score = to_decimal(item.get("score"))
            if label is None or score is None:
                self.report("bad_option", where, path)
                continue
            shown = f"{where}: {label} = {decimal_text(score)}"
            if score < 0:
                self.report("option_below_zero", where, shown)
            elif maximum is not None and score > maximum:
                self.report("option_above_max", where, shown, max=decimal_text(maximum))
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


def clone_catalog(catalog: Catalog, year: int, name: str | None = None) -> Catalog:
    """Nhân bản bộ tiêu chí sang năm mới (clone a set to a new year).

    Without a new name, the old year inside the name is replaced by the new one.
    """
    if not _is_year(year):
        raise CatalogInvalid([problem("bad_year", "year", year)])
    if name is None:
        name = catalog.name.replace(str(catalog.year), str(year))
    return replace(catalog, year=year, name=name)
