"""Chấm điểm: one criterion's score from what the unit entered, by its rule, and the
result of a set's scores (totals, index and band through services/common/scoring.py).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from services.common import scoring
from services.criteria.catalog import (
    CENT,
    MAX_MAGNITUDE,
    MAX_PLACES,
    Band,
    Catalog,
    DeductionRule,
    Node,
    OptionsRule,
    RangeRule,
    RatioRule,
    ScoreRejected,
    SurveyRule,
    canonical,
    clean_text,
    decimal_text,
    iter_leaves,
    to_decimal,
    walk,
)

# --- scoring -----------------------------------------------------------------


def _input_number(inp: Mapping[str, Any], key: str) -> Decimal:
    if inp.get(key) is None:
        raise ScoreRejected("missing_input", f"Thiếu giá trị / missing value: {key}")
    number = to_decimal(inp[key])
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
        label = clean_text(choice)
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
    scores = ", ".join(f"{o.label} = {decimal_text(o.score)}" for o in rule.options)
    if len(matching) == 1:
        return matching[0].score
    if not matching:
        raise ScoreRejected(
            "not_an_option_score",
            f"Không mức nào của tiêu chí {node.code} cho {decimal_text(score)} điểm ({scores}) / "
            f"no option of {node.code} gives {decimal_text(score)}",
        )
    raise ScoreRejected(
        "ambiguous_option_score",
        f"Nhiều mức của tiêu chí {node.code} cho {decimal_text(score)} điểm; hãy chọn mức "
        f"(option) / several options of {node.code} give {decimal_text(score)}; send the "
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
            f"Số đã thực hiện ({decimal_text(done)}) không được lớn hơn số kế hoạch "
            f"({decimal_text(planned)}) / done ({decimal_text(done)}) cannot exceed planned "
            f"({decimal_text(planned)})",
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
            f"Điểm vượt điểm tối đa / above max {decimal_text(node.max)}: "
            f"{decimal_text(score)}",
        )
    if score % rule.step != 0:
        raise ScoreRejected(
            "not_multiple_of_step",
            f"Điểm phải là bội số của {decimal_text(rule.step)} / must be a multiple of "
            f"{decimal_text(rule.step)}: {decimal_text(score)}",
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
    return canonical(max(node.max - rule.per_item * count, Decimal(0)))


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
    known = {node.code for node, _ in walk(catalog.nodes)}
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
        score = None if raw is None else to_decimal(raw)
        if raw is not None and (score is None or not (0 <= score <= leaf.max)):
            raise ScoreRejected(
                "score_out_of_range",
                f"Điểm ngoài khoảng 0–{decimal_text(leaf.max)} / score outside "
                f"0..{decimal_text(leaf.max)}: {leaf.code} = {raw}",
            )
        lines.append(scoring.Line(score, leaf.max))
    return scoring.result(lines, bands_as_rows(catalog.bands))


def bands_as_rows(bands: Sequence[Band]) -> list[dict[str, Any]]:
    """The bands as campaigns copy them and services/common/scoring.py reads them."""
    return [{"min": band.min, "label": band.label} for band in bands]
