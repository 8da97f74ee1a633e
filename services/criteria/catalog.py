"""Bộ tiêu chí (criteria set) as data: the tree, its rules and bands, walking it, its
plain-dict form (what is stored and sent), and the small value helpers every criteria
module shares. Pure: no I/O.

Scores are `Decimal` end to end: a total must be what a person adds by hand, which
binary floats cannot promise (0.1 + 0.2 != 0.3).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

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


def canonical(value: Decimal) -> Decimal:
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


def to_decimal(value: Any) -> Decimal | None:
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
    return canonical(number)


def clean_text(value: Any) -> str | None:
    """NFC-normalised, stripped text, or None when absent or empty.

    NFC because Vietnamese arrives both composed and decomposed (macOS, some
    keyboards) and the two must compare, sort and print the same.
    """
    if not isinstance(value, str):
        return None
    text = unicodedata.normalize("NFC", value).strip()
    return text or None


def decimal_text(value: Decimal) -> str:
    return format(value, "f")


# --- walking the tree --------------------------------------------------------


def walk(nodes: Sequence[Node], depth: int = 0) -> Iterator[tuple[Node, int]]:
    for node in nodes:
        yield node, depth
        yield from walk(node.children, depth + 1)


def iter_leaves(root: Catalog | Node) -> Iterator[Node]:
    """Các tiêu chí được chấm điểm (scorable leaves) under a set or a node, in order."""
    nodes = root.nodes if isinstance(root, Catalog) else (root,)
    return (node for node, _ in walk(nodes) if node.is_leaf)


def find_node(catalog: Catalog, code: str) -> Node | None:
    """Tìm tiêu chí theo mã (find a node by its code)."""
    return next((node for node, _ in walk(catalog.nodes) if node.code == code), None)




def _rule_to_dict(rule: Rule) -> dict[str, Any]:
    if isinstance(rule, OptionsRule):
        return {
            "kind": rule.kind,
            "options": [
                {"label": o.label, "score": decimal_text(o.score)} for o in rule.options
            ],
        }
    if isinstance(rule, RangeRule):
        return {"kind": rule.kind, "step": decimal_text(rule.step)}
    if isinstance(rule, DeductionRule):
        return {"kind": rule.kind, "per_item": decimal_text(rule.per_item)}
    return {"kind": rule.kind}


def _node_to_dict(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": node.code,
        "title": node.title,
        "max": decimal_text(node.max),
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
        "bands": [{"min": decimal_text(b.min), "label": b.label} for b in catalog.bands],
        "nodes": [_node_to_dict(n) for n in catalog.nodes],
        "bonus_max": decimal_text(catalog.bonus_max),
        "penalty_max": decimal_text(catalog.penalty_max),
    }
