"""The summary table a unit's leader signs (bảng tổng hợp tự đánh giá), as PDF and XLSX.

Laid out in the gateway from the data the submission service returns, so no file
travels over the bus. Vietnamese needs a font that has its letters: DejaVu Sans
(Debian's ``fonts-dejavu-core``); reportlab's built-in fonts draw boxes for ư, ạ, ắ.
Text is normalised to NFC, since decomposed marks come out misplaced.
"""

from __future__ import annotations

import functools
import io
import re
import threading
import unicodedata
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

HEADERS = ("Mã", "Tiêu chí", "Điểm tối đa", "Điểm tự chấm", "Thuyết minh",
           "Tài liệu kiểm chứng")


def nfc(value: Any) -> str:
    """Text as NFC, without the control characters PDF and XLSX cannot hold."""
    return _ILLEGAL.sub("", unicodedata.normalize("NFC", "" if value is None else str(value)))


_DECIMAL = re.compile(r"^-?\d+\.\d+$")


def vn_number(value: Any) -> str:
    """A score as a Vietnamese page writes it: the decimal comma (``0.25`` → ``0,25``)."""
    text = nfc(value)
    return text.replace(".", ",") if _DECIMAL.match(text) else text


def _score(row: dict[str, Any]) -> str:
    return "Không áp dụng" if row.get("not_applicable") else vn_number(row.get("score"))


def _shown_time(value: Any) -> str:
    """``2025-10-05T16:59:00+07:00`` as the pages show it: ``05/10/2025 16:59 (+07:00)``."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return nfc(value)
    return moment.strftime("%d/%m/%Y %H:%M (%z)").replace("(+0700)", "(+07:00)")


# reportlab keeps module state (registered fonts, their subsets) that is not thread-safe:
# two PDFs rendered at once in the thread pool failed (IndexError in the TrueType
# subsetting, 7–30 of 400 with 8 threads). One PDF at a time per gateway process.
_REPORTLAB = threading.Lock()
Rendered = TypeVar("Rendered")


def one_pdf_at_a_time(render: Callable[..., Rendered]) -> Callable[..., Rendered]:
    @functools.wraps(render)
    def exclusive(*args: Any, **kwargs: Any) -> Rendered:
        with _REPORTLAB:
            return render(*args, **kwargs)

    return exclusive


def _register_fonts() -> tuple[str, str]:
    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        for folder in FONT_DIRS:
            regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
            if regular.exists() and bold.exists():
                pdfmetrics.registerFont(TTFont("DejaVuSans", str(regular)))
                pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(bold)))
                break
        else:
            raise RuntimeError("DejaVu fonts missing: install fonts-dejavu-core")
    return "DejaVuSans", "DejaVuSans-Bold"


def _totals(data: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("Tổng điểm tự chấm / total", nfc(data.get("total"))),
        ("Điểm tối đa các tiêu chí áp dụng / applicable maximum", nfc(data.get("max"))),
        ("Chỉ số CCHC (%) / index", nfc(data.get("index") or "")),
        ("Xếp loại theo điểm / band", nfc(data.get("classification") or "")),
    ]


@one_pdf_at_a_time
def render_pdf(data: dict[str, Any]) -> bytes:
    regular, bold = _register_fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=8, leading=10)
    strong = ParagraphStyle("strong", parent=body, fontName=bold)
    title = ParagraphStyle("title", parent=body, fontName=bold, fontSize=13, leading=17,
                           alignment=1)
    centre = ParagraphStyle("centre", parent=body, fontSize=10, leading=13, alignment=1)

    def p(text: Any, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(nfc(text)).replace("\n", "<br/>"), style)

    campaign = data.get("campaign") or {}
    story: list[Any] = [
        p("BẢNG TỔNG HỢP KẾT QUẢ TỰ ĐÁNH GIÁ, CHẤM ĐIỂM CHỈ SỐ CẢI CÁCH HÀNH CHÍNH", title),
        p(campaign.get("name", ""), centre),
        p(f"Đơn vị: {data.get('unit_name', '')} ({data.get('unit_code', '')})", centre),
        p(f"Lập lúc: {_shown_time(data.get('generated_at', ''))}", centre),
        Spacer(1, 5 * mm),
    ]
    marker = nfc(data.get("marker") or "")
    rows: list[list[Any]] = [[p(h, strong) for h in HEADERS]]
    for row in data.get("rows", []):
        style = body if row.get("is_leaf") else strong
        rows.append([
            p(row.get("code"), style), p(row.get("title"), style),
            p(vn_number(row.get("max")), style),
            p(_score(row), style), p(row.get("explanation")),
            p("\n".join(nfc(name) for name in row.get("evidence") or [])),
        ])
    for label, value in _totals(data):
        rows.append([p(""), p(label, strong), p(""), p(vn_number(value), strong), p(""),
                     p("")])
    widths = [18 * mm, 78 * mm, 18 * mm, 22 * mm, 70 * mm, 58 * mm]
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story += [table, Spacer(1, 8 * mm)]
    signature = Table(
        [[p("NGƯỜI LẬP BIỂU", strong), p("…, ngày … tháng … năm …", body)],
         [p("(Ký, ghi rõ họ tên)", body), p("THỦ TRƯỞNG ĐƠN VỊ", strong)],
         [p("", body), p("(Ký số, ghi rõ họ tên, đóng dấu)", body)]],
        colWidths=[120 * mm, 120 * mm], rowHeights=[8 * mm, 8 * mm, 28 * mm],
    )
    signature.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    story.append(signature)
    # The binding the signed copy is checked against when it is sent (submission).
    story += [Spacer(1, 4 * mm), p(f"Mã bảng tổng hợp / summary id: {marker}", body)]

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=nfc(f"Bảng tổng hợp tự đánh giá - {data.get('unit_name', '')}"),
                            keywords=marker, subject=marker)
    doc.build(story)
    return out.getvalue()


def _cell_text(value: Any) -> str:
    return nfc(value)


def _append(sheet: Any, values: list[Any]) -> None:
    sheet.append(values)
    for cell in sheet[sheet.max_row]:
        # openpyxl makes any text starting with "=" a formula: unit-typed text stays text.
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"


def _number(value: Any) -> Decimal | str:
    try:
        return Decimal(str(value)) if value not in (None, "") else ""
    except ArithmeticError:
        return _cell_text(value)


def render_xlsx(data: dict[str, Any]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Tong hop"
    campaign = data.get("campaign") or {}
    _append(sheet, [nfc("BẢNG TỔNG HỢP KẾT QUẢ TỰ ĐÁNH GIÁ CHỈ SỐ CCHC")])
    _append(sheet, [_cell_text(campaign.get("name", ""))])
    unit = f"Đơn vị: {data.get('unit_name', '')} ({data.get('unit_code', '')})"
    _append(sheet, [_cell_text(unit)])
    _append(sheet, [_cell_text(f"Lập lúc: {_shown_time(data.get('generated_at', ''))}")])
    _append(sheet, [])
    _append(sheet, list(HEADERS))
    header_row = sheet.max_row
    for row in data.get("rows", []):
        score: Any = "Không áp dụng" if row.get("not_applicable") else _number(row.get("score"))
        _append(sheet, [
            _cell_text(row.get("code")), _cell_text(row.get("title")), _number(row.get("max")),
            score, _cell_text(row.get("explanation")),
            _cell_text("\n".join(nfc(n) for n in row.get("evidence") or [])),
        ])
        if not row.get("is_leaf"):
            for cell in sheet[sheet.max_row]:
                cell.font = Font(bold=True)
    for label, value in _totals(data):
        _append(sheet, ["", label, "", _number(value) if value and value[0].isdigit() else value])
        sheet[sheet.max_row][1].font = Font(bold=True)
    _append(sheet, [])
    _append(sheet, ["", "NGƯỜI LẬP BIỂU", "", "", "THỦ TRƯỞNG ĐƠN VỊ"])
    _append(sheet, ["", "(Ký, ghi rõ họ tên)", "", "", "(Ký số, ghi rõ họ tên, đóng dấu)"])
    thin = Side(style="thin")
    for row_cells in sheet.iter_rows(min_row=header_row, max_row=header_row + len(
            data.get("rows", [])) + 4):
        for cell in row_cells:
            cell.border = Border(left=thin, right=thin, top=thin, bottom=thin)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for column, width in zip("ABCDEF", (9, 50, 11, 13, 50, 40), strict=True):
        sheet.column_dimensions[column].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
