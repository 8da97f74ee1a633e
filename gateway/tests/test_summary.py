"""The summary table to sign, as a Vietnamese page writes it."""

from __future__ import annotations


def test_summary_pdf_writes_scores_with_the_decimal_comma() -> None:
    from gateway.submission.summary import _shown_time, vn_number

    assert [vn_number(v) for v in ("0.25", "3", "70.00", None, "Khá")] == [
        "0,25", "3", "70,00", "", "Khá"]
    assert _shown_time("2026-12-03T17:00:00+07:00") == "03/12/2026 17:00 (+07:00)"
