"""The results and deductions documents: numbers stay numbers, text stays text, Vietnamese
and decimal commas in the PDF."""

from __future__ import annotations

import io
import unicodedata

from openpyxl import load_workbook

from gateway.appraisal import documents

RESULTS = {
    "campaign": {"name": "Đánh giá CCHC cấp xã 2025", "year": 2025, "published": True,
                 "published_at": "2025-12-20T10:00:00+07:00"},
    "results": [
        {"rank": 1, "unit_code": "X1", "unit_name": "UBND xã Hương Vinh",
         "unit_type": "commune", "total": "8.25", "max": "10", "index": "82.5",
         "classification": "Tốt"},
        # A decomposed name (NFD) and a name that looks like a formula.
        {"rank": None, "unit_code": "X2",
         "unit_name": unicodedata.normalize("NFD", "=HYPERLINK(\"x\") Thuận Hòa"),
         "unit_type": "commune", "total": "4.75", "max": "8", "index": "59.38",
         "classification": "Trung bình"}],
}


def test_results_xlsx_keeps_numbers_and_never_a_formula() -> None:
    content = documents.render_xlsx("Kết quả", "Kết quả Chỉ số CCHC năm 2025",
                                    documents.RESULT_HEADERS, documents.result_rows(RESULTS))
    rows = list(load_workbook(io.BytesIO(content)).active.iter_rows())
    first, second = rows[2], rows[3]
    assert first[0].value == 1 and first[3].value == "Cấp xã"
    assert first[6].data_type == "n" and float(first[6].value) == 82.5
    assert second[0].value == "Không xếp hạng"
    assert second[2].data_type == "s"
    assert second[2].value == unicodedata.normalize("NFC", '=HYPERLINK("x") Thuận Hòa')


def test_pdfs_embed_a_vietnamese_font_and_show_decimal_commas() -> None:
    pdf = documents.render_pdf("Kết quả Chỉ số CCHC năm 2025", ["Đợt thử"],
                               documents.RESULT_HEADERS, documents.result_rows(RESULTS),
                               (6, 8, 24, 9, 7, 7, 8, 9))
    assert pdf.startswith(b"%PDF-") and b"DejaVuSans" in pdf
    assert documents.score("59.38") == "59,38" and documents.score("1234.5") == "1.234,5"
    assert documents.shown_time("2025-12-20T03:00:00+00:00") == "20/12/2025 10:00"
