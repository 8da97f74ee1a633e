import io
import unicodedata

from openpyxl import load_workbook

from gateway.submission.summary import render_pdf, render_xlsx

DATA = {
    "campaign": {"id": 1, "name": "Đánh giá Chỉ số CCHC năm 2025", "year": 2025},
    "unit_code": "X1", "unit_name": "UBND xã Hương Vinh",
    "generated_at": "2025-10-05T16:59:00+07:00",
    "total": "3.5", "max": "7", "index": "50.00", "classification": "Trung bình",
    "rows": [
        {"code": "1", "title": "Công tác chỉ đạo, điều hành", "depth": 0, "max": "5",
         "is_leaf": False, "score": None, "not_applicable": False, "explanation": "",
         "evidence": []},
        {"code": "1.1", "title": unicodedata.normalize("NFD", "Ban hành kế hoạch CCHC năm"),
         "depth": 1, "max": "2", "is_leaf": True, "score": "1.5", "not_applicable": False,
         "explanation": "=HYPERLINK(\"http://x\")", "evidence": ["1.1_so 12KH-UBND_KH.pdf"]},
        {"code": "2.1", "title": "Kiểm tra", "depth": 1, "max": "2", "is_leaf": True,
         "score": None, "not_applicable": True, "explanation": "Không phát sinh\x07",
         "evidence": []},
    ],
}


def test_pdf_embeds_a_font_with_vietnamese_letters() -> None:
    pdf = render_pdf(DATA)
    assert pdf.startswith(b"%PDF-")
    assert b"DejaVuSans" in pdf and b"DejaVuSans-Bold" in pdf


def test_xlsx_has_every_row_totals_and_signature_as_inert_nfc_text() -> None:
    sheet = load_workbook(io.BytesIO(render_xlsx(DATA))).active
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    flat = [v for row in values for v in row if v is not None]
    assert "Ban hành kế hoạch CCHC năm" in flat  # NFC, not the NFD it came as
    assert '=HYPERLINK("http://x")' in flat  # text, not a formula
    assert "Không phát sinh" in flat and "Không áp dụng" in flat
    assert "1.1_so 12KH-UBND_KH.pdf" in flat
    row = next(r for r in values if r[0] == "1.1")
    assert row[3] == 1.5
    assert any(r[1] == "Tổng điểm tự chấm / total" and r[3] == 3.5 for r in values)
    assert "THỦ TRƯỞNG ĐƠN VỊ" in flat
    formulas = [c for r in sheet.iter_rows() for c in r if c.data_type == "f"]
    assert formulas == []


def test_pdfs_rendered_side_by_side_all_come_out() -> None:
    """The gateway renders in its thread pool; reportlab's font state is shared, so
    renders run one at a time (without it, a few of these raised IndexError)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        pdfs = list(pool.map(lambda _: render_pdf(DATA), range(120)))
    assert all(pdf.startswith(b"%PDF") for pdf in pdfs)
