"""Rules of the self-assessment, as pure functions on plain data.

Scores themselves are never computed here: the criteria service owns every
scoring rule. This module decides who may write what, when a window accepts a
write, and when an entry may be called complete, and adds up the stored scores
(each one already validated by the criteria service) into the totals.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from services.common import scoring
from services.common.errors import DomainError

SELF_ASSESSMENT = "self_assessment"
APPRAISAL = "appraisal"
SUPPLEMENT = "supplement"
WINDOW_KINDS = (SELF_ASSESSMENT, APPRAISAL, SUPPLEMENT)

SCORE_INPUTS = ("option", "done", "planned", "count", "self_score")

LEADER = "unit_leader"
STAFF = "unit_staff"
# Roles that read every unit's assessment (API.md: "the unit, appraisers, admin").
READ_ALL = frozenset({"admin", "appraiser"})



# --- The criteria tree -------------------------------------------------------------


def flatten_catalog(nodes: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The set's tree as rows in reading order, each knowing its parent and depth."""
    rows: list[dict[str, Any]] = []

    def visit(items: Iterable[Mapping[str, Any]], parent: str | None, depth: int) -> None:
        for node in items:
            children = node.get("children") or []
            rows.append({
                "code": str(node["code"]),
                "parent_code": parent,
                "position": len(rows),
                "depth": depth,
                "title": str(node.get("title", "")),
                "max": Decimal(str(node.get("max", "0"))),
                "is_leaf": not children,
                "rule": node.get("rule"),
                "evidence": node.get("evidence") or "optional",
                "not_applicable_allowed": bool(node.get("not_applicable_allowed", False)),
            })
            visit(children, str(node["code"]), depth + 1)

    visit(nodes, None, 0)
    return rows


def leaves_under(parents: Mapping[str, str | None], leaves: Iterable[str], code: str) -> list[str]:
    """The scorable leaves at or below ``code``: assigning a field assigns all of them."""

    def ancestors(leaf: str) -> Iterator[str]:
        current: str | None = leaf
        while current is not None:
            yield current
            current = parents.get(current)

    return [leaf for leaf in leaves if code in ancestors(leaf)]


# --- Who may do what -----------------------------------------------------------------


def roles(actor: Mapping[str, Any]) -> set[str]:
    return set(actor.get("roles") or ())


def in_unit(actor: Mapping[str, Any], unit_code: str) -> bool:
    return actor.get("unit_code") == unit_code and bool(roles(actor) & {LEADER, STAFF})


def is_leader_of(actor: Mapping[str, Any], unit_code: str) -> bool:
    return actor.get("unit_code") == unit_code and LEADER in roles(actor)


def check_read(actor: Mapping[str, Any], unit_code: str) -> None:
    if roles(actor) & READ_ALL or in_unit(actor, unit_code):
        return
    raise not_your_unit(unit_code)


def check_write(actor: Mapping[str, Any], unit_code: str, assignee: str | None) -> None:
    """The leader writes everything of the unit; staff only what is assigned to them."""
    if is_leader_of(actor, unit_code):
        return
    if not in_unit(actor, unit_code):
        raise not_your_unit(unit_code)
    if assignee != actor.get("username"):
        raise DomainError(
            "not_assigned",
            "Tiêu chí này không được phân công cho bạn / this criterion is not assigned to you",
            403,
        )


def check_leader(actor: Mapping[str, Any], unit_code: str) -> None:
    if not is_leader_of(actor, unit_code):
        if not in_unit(actor, unit_code):
            raise not_your_unit(unit_code)
        raise DomainError(
            "leader_only",
            "Chỉ lãnh đạo đơn vị được thực hiện / only the unit's leader may do this",
            403,
        )


def not_your_unit(unit_code: str) -> DomainError:
    return DomainError(
        "forbidden_unit",
        f"Bạn không thuộc đơn vị {unit_code} / you are not part of unit {unit_code}",
        403,
    )


# --- Entries -----------------------------------------------------------------------------


def score_inputs(data: Mapping[str, Any]) -> dict[str, Any]:
    """The score inputs a save carries, as JSON (decimals as strings)."""
    out: dict[str, Any] = {}
    for key in SCORE_INPUTS:
        value = data.get(key)
        if value is not None:
            out[key] = str(value) if isinstance(value, Decimal) else value
    return out


def completion_problems(
    *, score: Decimal | None, not_applicable: bool, explanation: str, evidence: list[Any],
    evidence_rule: str,
) -> list[str]:
    """Why an entry cannot be complete; empty when it can.

    A not-applicable entry still needs an explanation (why it does not apply this
    year) but no score and no evidence.
    """
    problems: list[str] = []
    if not not_applicable and score is None:
        problems.append("score_missing")
    if not explanation.strip():
        problems.append("explanation_missing")
    if not not_applicable and evidence_rule == "required" and not evidence:
        problems.append("evidence_missing")
    return problems


INCOMPLETE_TEXT = {
    "score_missing": "chưa chấm điểm / no score yet",
    "explanation_missing": "thiếu thuyết minh / the explanation is missing",
    "evidence_missing": "thiếu tài liệu kiểm chứng bắt buộc / required evidence is missing",
}


def incomplete(code: str, problems: list[str]) -> DomainError:
    reasons = "; ".join(INCOMPLETE_TEXT[p] for p in problems)
    return DomainError(
        problems[0],
        f"Tiêu chí {code} chưa thể hoàn thành: {reasons}",
        422,
        {"reasons": problems, "criterion": code},
    )


def parse_if_match(value: Any) -> int | None:
    """``If-Match: 3``, ``"3"`` or ``W/"3"``; None when absent."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise DomainError(
            "invalid_if_match", "If-Match phải là số phiên bản / If-Match must be a version", 400
        )
    return int(text)


def stale(current: int) -> DomainError:
    return DomainError(
        "stale_version",
        "Người khác đã lưu trước bạn; hãy tải lại / someone else saved first; reload",
        409,
        {"current_version": current},
    )


def fingerprint(method: str, *parts: Any) -> str:
    """What a request asked for, so a reused Idempotency-Key with other content is refused."""
    body = json.dumps([method, *parts], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def entry_snapshot(entry: Any) -> dict[str, Any]:
    """An entry's user-visible fields, as JSON, for the history and the answers."""
    return {
        "assignee": entry.assignee,
        "inputs": dict(entry.inputs or {}),
        "score": scoring.text(entry.score),
        "not_applicable": entry.not_applicable,
        "explanation": entry.explanation,
        "evidence": list(entry.evidence or []),
        "status": entry.status,
        "version": entry.version,
    }


