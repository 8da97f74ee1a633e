"""The council's rules, pure functions on plain data (quy tắc thẩm định).

No I/O here: the service's modules read rows, call these, and write what they say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from services.common import scoring
from services.common.errors import DomainError

BONUS, PENALTY = "bonus", "penalty"


def council_score(rule: Mapping[str, Any] | None, maximum: Decimal, raw: Any) -> Decimal:
    """The score as the criterion's rule allows it; 422 ``score_rejected`` otherwise."""
    try:
        score = scoring.to_decimal(raw)
        scoring.check_score(rule, maximum, score)
    except scoring.ScoreRefused as refused:
        raise DomainError("score_rejected", refused.detail, 422) from None
    return score


def require_reason(score: Decimal, reference: Decimal | None, reason: str, code: str) -> None:
    """A score below what the unit gave itself (or proposed in round 2) needs its reason."""
    if reference is not None and score < reference and not reason.strip():
        raise DomainError(
            "reason_required",
            f"Tiêu chí {code}: điểm thẩm định thấp hơn điểm đơn vị tự chấm nên phải ghi lý do / "
            f"criterion {code}: a score below the unit's own needs a reason", 422)


def check_department(appraised_by: str | None, department_code: str | None, code: str) -> None:
    """Nobody appraises another department's criteria."""
    if appraised_by is None or appraised_by != department_code:
        raise DomainError(
            "other_department",
            f"Tiêu chí {code} do {appraised_by or 'Hội đồng'} thẩm định, không thuộc đơn vị "
            f"của bạn / criterion {code} is appraised by {appraised_by or 'another department'}",
            403, {"appraised_by": appraised_by})


def final_score(*, rule_kind: str | None, not_applicable: bool, returned: bool,
                r1: Decimal | None, r2: Decimal | None, survey: Decimal | None) -> Decimal | None:
    """Điểm cuối cùng: survey criteria by the admin; a returned criterion by its round-2
    score when the council gave one (else round 1 stands); the rest by round 1.

    services/appraisal/results.py says the same in SQL for the whole campaign at once.
    """
    if not_applicable:
        return None
    if rule_kind == "survey":
        return survey
    if returned and r2 is not None:
        return r2
    return r1


def missing_for_final(entries: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """What keeps an assessment from its final result: unscored criteria, missing surveys."""
    unscored, surveys = [], []
    for e in entries:
        if e["not_applicable"]:
            continue
        if e["rule_kind"] == "survey":
            if e["survey"] is None:
                surveys.append(e["code"])
        elif e["r1"] is None:
            unscored.append(e["code"])
    return {k: v for k, v in (("unscored", unscored), ("survey_missing", surveys)) if v}


def adjustments(items: Iterable[Mapping[str, Any]], bonus_max: Decimal,
                penalty_max: Decimal) -> list[dict[str, Any]]:
    """Bonus and penalty lines, each with a reason; their sums within the set's caps."""
    out, sums = [], {BONUS: Decimal(0), PENALTY: Decimal(0)}
    for i, item in enumerate(items):
        kind = item.get("kind")
        if kind not in (BONUS, PENALTY):
            raise DomainError("invalid_input",
                              f"Dòng {i + 1}: loại phải là bonus hoặc penalty / "
                              f"line {i + 1}: kind must be bonus or penalty", 422)
        try:
            points = scoring.to_decimal(item.get("points"))
        except scoring.ScoreRefused as refused:
            raise DomainError("invalid_input", f"Dòng {i + 1}: {refused.detail}", 422) from None
        if points <= 0:
            raise DomainError("invalid_input", f"Dòng {i + 1}: điểm phải dương / "
                              f"line {i + 1}: points must be positive", 422)
        reason = str(item.get("reason") or "").strip()
        if not reason:
            raise DomainError("reason_required", f"Dòng {i + 1}: phải ghi lý do / "
                              f"line {i + 1}: a reason is required", 422)
        sums[kind] += points
        out.append({"kind": kind, "points": points, "reason": reason})
    for kind, cap in ((BONUS, bonus_max), (PENALTY, penalty_max)):
        if sums[kind] > cap:
            label = "thưởng" if kind == BONUS else "trừ"
            raise DomainError(
                "adjustment_over_cap",
                f"Tổng điểm {label} {scoring.vn(sums[kind])} vượt mức tối đa "
                f"{scoring.vn(cap)} của bộ tiêu chí / {kind} points {scoring.text(sums[kind])} "
                f"exceed the set's cap {scoring.text(cap)}", 422,
                {"kind": kind, "cap": scoring.text(cap)})
    return out
