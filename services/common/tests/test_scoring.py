"""The one computation of results and ranks, worked by hand."""

from decimal import Decimal as D

import pytest

from services.common import scoring
from services.common.scoring import Line, ScoreRefused

BANDS = [{"min": 90, "label": "Xuất sắc"}, {"min": 80, "label": "Tốt"},
         {"min": 65, "label": "Khá"}, {"min": 50, "label": "Trung bình"},
         {"min": 0, "label": "Yếu"}]


def test_only_applicable_criteria_count_in_total_and_max() -> None:
    # 1.75 + 2 + (not applicable 3 of 3) + 0.25 = 4 of 2 + 3 + 1 = 6 -> 66.666.. -> 66.67 Khá
    got = scoring.result([Line(D("1.75"), D(2)), Line(D(2), D(3)),
                          Line(D(3), D(3), applicable=False), Line(D("0.25"), D(1))], BANDS)
    assert (got.total, got.max, got.index, got.classification) == (
        D(4), D(6), D("66.67"), "Khá")
    assert got.as_json() == {"total": "4", "max": "6", "index": "66.67",
                             "classification": "Khá"}


def test_bonus_and_penalty_move_the_total_never_below_zero() -> None:
    assert scoring.result_from_sums(D("8.5"), D(10), BANDS, bonus=D(1)).index == D("95.00")
    assert scoring.result_from_sums(D("0.5"), D(10), BANDS, penalty=D(2)).total == 0
    assert scoring.result_from_sums(None, None, BANDS).index is None
    assert scoring.capped([D(1), D("1.5")], D(2)) == D(2)


def test_ranks_share_ties_skip_places_and_leave_out_the_unranked() -> None:
    rows = [("a", "commune", D("91.5")), ("b", "commune", D(80)), ("c", "commune", D(80)),
            ("d", "commune", D(70)), ("e", "department", D(60)), ("f", "commune", D(99)),
            ("g", "department", None)]
    assert scoring.ranks(rows, unranked=["f"]) == {
        "a": 1, "b": 2, "c": 2, "d": 4, "e": 1, "f": None, "g": None}


def test_decimal_comma_for_people() -> None:
    assert [scoring.vn(v) for v in (D("0.25"), D("1234.5"), D("100.00"), D(0))] == [
        "0,25", "1.234,5", "100", "0"]


@pytest.mark.parametrize(("rule", "maximum", "score"), [
    ({"kind": "options", "options": [{"score": 2}, {"score": 1}, {"score": 0}]}, 2, "1.5"),
    ({"kind": "range", "step": "0.25"}, 2, "0.3"),
    ({"kind": "deduction", "per_item": "0.5"}, 3, "2.25"),
    ({"kind": "ratio"}, 3, "3.5"),
    ({"kind": "ratio"}, 3, "-1"),
])
def test_council_scores_the_rule_cannot_give_are_refused(rule, maximum, score) -> None:
    with pytest.raises(ScoreRefused):
        scoring.check_score(rule, D(maximum), D(score))


@pytest.mark.parametrize(("rule", "maximum", "score"), [
    ({"kind": "options", "options": [{"score": 2}, {"score": 1}, {"score": 0}]}, 2, "1"),
    ({"kind": "range", "step": "0.25"}, 2, "1.75"),
    ({"kind": "deduction", "per_item": "0.5"}, 3, "2.5"),
    ({"kind": "deduction", "per_item": "2"}, 3, "0"),
    ({"kind": "ratio"}, 3, "2.4"),
    ({"kind": "survey"}, 5, "4.25"),
])
def test_council_scores_the_rule_allows(rule, maximum, score) -> None:
    scoring.check_score(rule, D(maximum), D(score))


def test_scores_arrive_as_numbers_or_strings_never_as_nonsense() -> None:
    assert scoring.to_decimal("2,5") == D("2.5") and scoring.to_decimal(0.25) == D("0.25")
    for bad in (None, True, "abc", "NaN", [1]):
        with pytest.raises(ScoreRefused):
            scoring.to_decimal(bad)
