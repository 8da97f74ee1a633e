"""Precheck's rules on one criterion (pure functions)."""

from datetime import date
from decimal import Decimal

from services.submission.precheck import cites_document, entry_problems


def _file(kind: str = "pdf", state: str = "valid", flags: tuple[str, ...] = (),
          number: str = "25/KH-UBND", doc_date: str | None = "2025-03-01") -> dict:
    return {"id": 1, "name": "1.1_so 25KH-UBND_KH.pdf", "doc_number": number,
            "doc_date": doc_date, "checks": {"type": {"kind": kind},
                                             "signature": {"state": state},
                                             "flags": [{"code": f} for f in flags]}}


def _problems(evidence: list, explanation: str = "Kế hoạch 25/KH-UBND, mục II",
              rule: str = "required", score: str | None = "2") -> dict[str, str]:
    found = entry_problems(code="1.1", score=None if score is None else Decimal(score),
                           not_applicable=False, explanation=explanation, evidence=evidence,
                           evidence_rule=rule, rule_kind="options", cutoff=date(2025, 11, 20))
    return {p["problem"]: p["predicted_score"] for p in found}


def test_a_signed_cited_document_passes() -> None:
    assert _problems([_file()]) == {}
    assert _problems([_file(kind="office", state="absent")]) == {}  # a required form
    assert _problems([_file(kind="jpeg", state="absent")]) == {}  # a scan
    assert _problems([_file(state="untrusted")]) == {}  # reported by the checks, not refused


def test_each_refusal_and_its_predicted_score() -> None:
    assert _problems([]) == {"evidence_missing": "0"}
    assert _problems([_file(state="absent")]) == {"signature_absent": "0"}
    assert _problems([_file(state="modified")]) == {"signature_broken": "0"}
    assert _problems([_file(kind="archive")]) == {"file_type_refused": "0"}
    assert _problems([_file(flags=("doc_number_letter_suffix",))]) == {
        "doc_number_letter_suffix": "0"}
    assert _problems([_file(doc_date="2025-11-21")]) == {"doc_date_after_cutoff": "0"}
    # A second, good file keeps the self-score for a file-level problem...
    assert _problems([_file(doc_date="2025-11-21"), _file()]) == {"doc_date_after_cutoff": "2"}
    # ...but not for the seeds' zero rules.
    assert _problems([_file(flags=("doc_number_letter_suffix",)), _file()]) == {
        "doc_number_letter_suffix": "0"}
    assert _problems([_file()], explanation="Đã thực hiện tốt") == {"explanation_no_citation": "0"}
    # Optional evidence: a missing file is not a refusal, an uncited explanation is.
    assert _problems([], rule="optional", explanation="Mục 2 báo cáo") == {
        "explanation_no_citation": "0"}
    assert _problems([], rule="none", explanation="") == {}


def test_a_citation_names_a_document_and_a_section() -> None:
    assert cites_document("Báo cáo số 25/BC-UBND, mục III", [])
    assert cites_document("Xem văn bản số 25 / KH-UBND điều 2", ["25/KH-UBND"])
    assert cites_document("Kế hoạch 12 / KH-UBND, phụ lục 1", [])
    assert not cites_document("Kế hoạch 12/KH-UBND", [])  # no section
    assert not cites_document("mục II", [])  # no document
