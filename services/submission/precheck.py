"""Kiểm tra trước khi gửi: what the council will refuse, criterion by criterion.

Pure rules on an entry, its criterion and the checks the evidence service made of
each file (stored with the entry by ``attach_evidence``). From the seeds (003, 001):
a document number with a letter suffix scores 0, as does an explanation that does not
say which section of which document proves the score; evidence must be a PDF or an
image whose signature is intact; a document dated after the data cut-off does not
count. Appraisal's round 1 starts from these predictions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Final

SIGNATURE_ABSENT: Final = "signature_absent"
SIGNATURE_BROKEN: Final = "signature_broken"
FILE_TYPE_REFUSED: Final = "file_type_refused"
LETTER_SUFFIX: Final = "doc_number_letter_suffix"
AFTER_CUTOFF: Final = "doc_date_after_cutoff"
NO_CITATION: Final = "explanation_no_citation"
EVIDENCE_MISSING: Final = "evidence_missing"

# Problems the seeds score 0 whatever else the entry has.
ZEROING: Final = frozenset({LETTER_SUFFIX, NO_CITATION, EVIDENCE_MISSING})

# Office files reach an entry only where its criterion asks for a form (the evidence
# service refuses them elsewhere), so they are accepted here too.
_ACCEPTED_KINDS: Final = frozenset({"pdf", "jpeg", "png", "office"})
# Signature states that mean the signed bytes cannot be relied on; "untrusted" is
# reported by the evidence checks but is not a refusal.
_BROKEN_STATES: Final = frozenset({"broken", "modified", "unreadable"})

# "mục II", "Điều 3", "khoản 2", "trang 4", "phụ lục 1", "section 2"...
_SECTION = re.compile(
    r"\b(m[uụ]c|[dđ]i[eềể]u|kho[aả]n|[dđ]i[eể]m|ph[aầ]n|ch[uư][oơ]ng|trang|ti[eế]t|"
    r"ph[uụ]\s*l[uụ]c|b[aả]ng|section|page|article)\s*[\dIVXLivxl]+",
    re.IGNORECASE)
# "25/KH-UBND", "số 12/BC", "QĐ 30/QĐ-UBND": a number and a slash before the issuer.
_DOC_NUMBER = re.compile(r"\d+\s*[^\W_]*\s*/\s*[^\W\d_]", re.UNICODE)

TEXT: Final = {
    SIGNATURE_ABSENT: "Tệp {name} không có chữ ký số / the file {name} carries no "
                      "digital signature",
    SIGNATURE_BROKEN: "Chữ ký số của tệp {name} không còn nguyên vẹn hoặc không kiểm tra "
                      "được / the signature of {name} is broken or cannot be checked",
    FILE_TYPE_REFUSED: "Tệp {name} không phải PDF hoặc ảnh / {name} is not a PDF or an image",
    LETTER_SUFFIX: "Số văn bản {number} có chữ cái sau số: tiêu chí được 0 điểm / the "
                   "document number {number} has a letter suffix: the criterion scores 0",
    AFTER_CUTOFF: "Văn bản {name} ngày {doc_date} sau ngày chốt số liệu {cutoff} / {name} "
                  "is dated {doc_date}, after the data cut-off {cutoff}",
    NO_CITATION: "Thuyết minh không nêu văn bản và mục nào chứng minh điểm tự chấm: tiêu chí "
                 "được 0 điểm / the explanation does not name the document and section "
                 "that prove the score: the criterion scores 0",
    EVIDENCE_MISSING: "Thiếu tài liệu kiểm chứng hợp lệ: tiêu chí được 0 điểm / no valid "
                      "evidence: the criterion scores 0",
}


def cites_document(explanation: str, doc_numbers: Iterable[str]) -> bool:
    """The explanation names a document (by its number) and a section of it."""
    text = explanation or ""
    if not _SECTION.search(text):
        return False
    folded = _squash(text)
    if any(number and _squash(number) in folded for number in doc_numbers):
        return True
    return bool(_DOC_NUMBER.search(text))


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text).lower()


def _file_problems(ref: Mapping[str, Any], cutoff: date | None) -> list[tuple[str, str]]:
    """What makes one attached file worthless to the council, with the reason."""
    checks = ref.get("checks") or {}
    name = ref.get("name") or str(ref.get("id"))
    found: list[tuple[str, str]] = []
    kind = (checks.get("type") or {}).get("kind")
    if kind is not None and kind not in _ACCEPTED_KINDS:
        found.append((FILE_TYPE_REFUSED, TEXT[FILE_TYPE_REFUSED].format(name=name)))
    signature = checks.get("signature") or {}
    if kind == "pdf":
        state = signature.get("state")
        if state == "absent":
            found.append((SIGNATURE_ABSENT, TEXT[SIGNATURE_ABSENT].format(name=name)))
        elif state in _BROKEN_STATES:
            found.append((SIGNATURE_BROKEN, TEXT[SIGNATURE_BROKEN].format(name=name)))
    number = ref.get("doc_number") or ""
    if any(f.get("code") == LETTER_SUFFIX for f in checks.get("flags") or []):
        found.append((LETTER_SUFFIX, TEXT[LETTER_SUFFIX].format(number=number or name)))
    doc_date = _as_date(ref.get("doc_date"))
    if cutoff is not None and doc_date is not None and doc_date > cutoff:
        found.append((AFTER_CUTOFF, TEXT[AFTER_CUTOFF].format(
            name=name, doc_date=doc_date.strftime("%d/%m/%Y"),
            cutoff=cutoff.strftime("%d/%m/%Y"))))
    return found


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def entry_problems(
    *, code: str, score: Decimal | None, not_applicable: bool, explanation: str,
    evidence: list[Mapping[str, Any]], evidence_rule: str, rule_kind: str | None,
    cutoff: date | None,
) -> list[dict[str, Any]]:
    """``[{code, problem, detail, predicted_score}]`` for one criterion; empty when fine.

    The predicted score is "0" for the problems the seeds score 0, and also when a
    file's problem leaves a criterion that requires evidence without one good file;
    otherwise it is the self-score (the council may still lower it).
    """
    if not_applicable or rule_kind == "survey":
        return []
    found: list[tuple[str, str]] = []
    good_files = 0
    for ref in evidence:
        problems = _file_problems(ref, cutoff)
        found.extend(problems)
        if not problems:
            good_files += 1
    required = evidence_rule == "required"
    if required and not evidence:
        found.append((EVIDENCE_MISSING, TEXT[EVIDENCE_MISSING]))
    if evidence_rule != "none":
        numbers = [str(ref.get("doc_number") or "") for ref in evidence]
        if not cites_document(explanation, numbers):
            found.append((NO_CITATION, TEXT[NO_CITATION]))
    zero = any(p in ZEROING for p, _ in found) or (required and evidence and not good_files)
    predicted = "0" if zero or score is None else _text(score)
    return [{"code": code, "problem": p, "detail": d, "predicted_score": predicted}
            for p, d in found]


def _text(value: Decimal) -> str:
    value = Decimal(value).normalize()
    if value.is_zero():
        return "0"
    return format(value, "f")
