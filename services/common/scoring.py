"""The one computation of a result, and of a ranking, for every service (tính điểm, xếp hạng).

Pure functions on plain data: submission's running totals, appraisal's final results
and every report must agree to the last digit, so they all call these.

- total = the scores of the applicable criteria (``có phát sinh nhiệm vụ``) added up,
  plus bonus points, minus penalty points, never below 0;
- max = the maxima of the applicable criteria added up (bonus does not raise it);
- index (Chỉ số CCHC) = total / max × 100, rounded half up to 0.01;
- classification = the label of the highest band whose ``min`` the index reaches;
  None when the index reaches no band (a set whose lowest band starts above 0) or
  there is no index (nothing applies): "not classified", never an error;
- rank within a unit type: highest index first, equal indexes share a rank and the
  next rank skips (1, 2, 2, 4); units assessed but not ranked keep their index and
  take no rank.

Decimals throughout, never floats: a total is what a person adds by hand.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


@dataclass(frozen=True)
class Result:
    """Kết quả: total, applicable maximum, index (%) and band (xếp loại)."""

    total: Decimal
    max: Decimal
    index: Decimal | None
    classification: str | None

    def as_json(self, index_cents: bool = False) -> dict[str, str | None]:
        """Decimals as strings, the way they cross the bus.

        ``index_cents``: the index with its two places ("82.50"), as the criteria
        service's ``compute_result`` and the units' running totals have always spelled
        it; appraisal's results spell it as ``text`` does ("82.5").
        """
        index = None
        if self.index is not None:
            index = format(self.index, "f") if index_cents else text(self.index)
        return {"total": text(self.total), "max": text(self.max), "index": index,
                "classification": self.classification}


def text(value: Decimal | None) -> str | None:
    """One spelling per number ("2.5", not "2.5000"), for JSON and comparisons."""
    if value is None:
        return None
    value = value.normalize()
    if value.is_zero():
        return "0"
    if value.as_tuple().exponent > 0:
        value = value.quantize(Decimal(1))
    return format(value, "f")


def vn(value: Decimal | str | None) -> str:
    """A score as pages and documents show it: decimal comma, dot for thousands (1.234,5)."""
    if value is None:
        return ""
    plain = text(Decimal(value)) or "0"
    sign = "-" if plain.startswith("-") else ""
    whole, _, frac = plain.lstrip("-").partition(".")
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ".".join(groups) + ("," + frac if frac else "")


def vn_text(value: Any, empty: str = "") -> str:
    """``vn`` of whatever a payload or a page holds: a decimal string, a Decimal, None
    (``empty``); text that is not a number is shown as it is."""
    if value is None or value == "":
        return empty
    try:
        return vn(Decimal(str(value)))
    except InvalidOperation:
        return str(value)


def band(index: Decimal | None, bands: Iterable[Mapping[str, Any]]) -> str | None:
    """The label of the highest band whose ``min`` the index reaches (None below all)."""
    if index is None:
        return None
    reached = [b for b in bands if index >= Decimal(str(b["min"]))]
    if not reached:
        return None
    return max(reached, key=lambda b: Decimal(str(b["min"])))["label"]


def result_from_sums(total: Decimal | None, maximum: Decimal | None,
                     bands: Sequence[Mapping[str, Any]], bonus: Decimal = ZERO,
                     penalty: Decimal = ZERO) -> Result:
    """The result from the applicable criteria's sums (as SQL ``SUM`` gives them)."""
    maximum = maximum or ZERO
    total = max((total or ZERO) + bonus - penalty, ZERO)
    index = (total * HUNDRED / maximum).quantize(CENT, rounding=ROUND_HALF_UP) \
        if maximum else None
    return Result(total, maximum, index, band(index, bands))


@dataclass(frozen=True)
class Line:
    """One criterion's part: its score (None: not scored, counts 0) and maximum."""

    score: Decimal | None
    max: Decimal
    applicable: bool = True


def result(lines: Iterable[Line], bands: Sequence[Mapping[str, Any]],
           bonus: Decimal = ZERO, penalty: Decimal = ZERO) -> Result:
    """The result of these criteria: only applicable ones count, in total and in max."""
    total, maximum = ZERO, ZERO
    for line in lines:
        if line.applicable:
            total += line.score or ZERO
            maximum += line.max
    return result_from_sums(total, maximum, bands, bonus, penalty)


def capped(points: Iterable[Decimal], cap: Decimal) -> Decimal:
    """Bonus (or penalty) points added up, never beyond the set's cap."""
    return min(sum(points, ZERO), cap)


def ranks(rows: Iterable[tuple[Hashable, Hashable, Decimal | None]],
          unranked: Iterable[Hashable] = ()) -> dict[Hashable, int | None]:
    """``(key, group, index)`` → rank within the group: 1, 2, 2, 4 (competition ranking).

    A unit in ``unranked`` or without an index takes no rank (None) and takes no
    place from the others.
    """
    skip = set(unranked)
    out: dict[Hashable, int | None] = {}
    groups: dict[Hashable, list[tuple[Decimal, Hashable]]] = defaultdict(list)
    for key, group, index in rows:
        if key in skip or index is None:
            out[key] = None
        else:
            groups[group].append((index, key))
    for members in groups.values():
        members.sort(key=lambda m: m[0], reverse=True)
        previous, place = None, 0
        for position, (index, key) in enumerate(members, start=1):
            if index != previous:
                place, previous = position, index
            out[key] = place
    return out


class ScoreRefused(ValueError):
    """A council score the criterion's rule does not allow."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def to_decimal(value: Any) -> Decimal:
    """A score as sent (JSON number or string, "2,5" too); floats through their repr."""
    if isinstance(value, bool) or value is None:
        raise ScoreRefused("Điểm phải là một số / the score must be a number")
    if isinstance(value, float):
        value = repr(value)
    if isinstance(value, str):
        value = value.strip().replace(",", ".") if "." not in value else value.strip()
    try:
        number = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise ScoreRefused("Điểm phải là một số / the score must be a number") from None
    if not number.is_finite():
        raise ScoreRefused("Điểm phải là một số / the score must be a number")
    return number


def check_score(rule: Mapping[str, Any] | None, maximum: Decimal, score: Decimal) -> None:
    """Refuses a score the rule cannot give: out of [0, max], off the step, not an option.

    The council scores the result, not the unit's inputs: options allow their option
    scores, range the multiples of its step, deduction ``max − per_item × n`` (or 0),
    ratio and survey any value in [0, max].
    """
    if score < 0 or score > maximum:
        raise ScoreRefused(f"Điểm phải trong khoảng 0 đến {vn(maximum)} / "
                           f"the score must be between 0 and {text(maximum)}")
    kind = (rule or {}).get("kind")
    if kind == "options":
        allowed = {Decimal(str(o["score"])) for o in rule["options"]}
        if score not in allowed:
            shown = ", ".join(vn(a) for a in sorted(allowed))
            raise ScoreRefused(f"Điểm phải là một trong các mức {shown} / "
                               f"the score must be one of the options' scores")
    elif kind == "range":
        step = Decimal(str(rule["step"]))
        if score % step != 0:
            raise ScoreRefused(f"Điểm phải là bội của {vn(step)} / "
                               f"the score must be a multiple of {text(step)}")
    elif kind == "deduction":
        per_item = Decimal(str(rule["per_item"]))
        if score != 0 and (maximum - score) % per_item != 0:
            raise ScoreRefused(f"Điểm phải là {vn(maximum)} trừ bội của {vn(per_item)} / "
                               f"the score must be the maximum minus a multiple of "
                               f"{text(per_item)}")
