"""Results, the per-criterion report and the deductions table as PDF and XLSX.

Laid out in the gateway (as the summary to sign is) from what the appraisal service
returns, so no file travels over the bus. DejaVu Sans for Vietnamese letters, text in
NFC, scores with the decimal comma (``0,25``), times as ``dd/MM/yyyy HH:mm`` in
Vietnam time. XLSX cells keep numbers as numbers and unit-typed text as text (never
a formula).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from gateway.submission.summary import _register_fonts, nfc, one_pdf_at_a_time
from services.common import times
from services.common.scoring import vn_text

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def shown_time(value: Any) -> str:
    """An ISO instant as ``dd/MM/yyyy HH:mm`` in Vietnam time."""
    return times.vn_time(value or None)


def score(value: Any) -> str:
    return vn_text(value)


# --- What each document shows ------------------------------------------------------

# Unit types as a reader names them; an unknown type is shown as it is stored.
UNIT_TYPES = {"commune": "Cấp xã", "district": "Cấp huyện", "department": "Sở, ban, ngành",
              "public_service_unit": "Đơn vị sự nghiệp", "association": "Hội"}

RESULT_HEADERS = ("Hạng", "Mã đơn vị", "Đơn vị", "Loại đơn vị", "Tổng điểm", "Điểm tối đa",
                  "Chỉ số CCHC (%)", "Xếp loại")


def result_rows(data: dict[str, Any]) -> list[list[Any]]:
    return [[r["rank"] if r["rank"] is not None else "Không xếp hạng", r["unit_code"],
             r["unit_name"], UNIT_TYPES.get(r["unit_type"], r["unit_type"]),
             _num(r["total"]), _num(r["max"]),
             _num(r["index"]), r["classification"] or ""] for r in data["results"]]


REPORT_HEADERS = ("Mã", "Lĩnh vực / tiêu chí", "Điểm tối đa", "Số đơn vị", "Trung bình",
                  "Thấp nhất", "Cao nhất", "Số đơn vị đạt tối đa", "Số đơn vị bị trả lại")


def report_rows(data: dict[str, Any]) -> list[list[Any]]:
    return [[r["code"], r["title"], _num(r["max"]), r["units"], _num(r["mean"]),
             _num(r["min"]), _num(r["max_score"]), r["full_score_units"],
             r["returned_units"]] for r in data["rows"]]


DEDUCTION_HEADERS = ("Mã", "Tiêu chí", "Điểm tự chấm", "Điểm thẩm định vòng 1",
                     "Lý do trừ điểm", "Giải trình, bổ sung vòng 2",
                     "Tài liệu kiểm chứng bổ sung", "Điểm đề xuất", "Điểm cuối cùng")


def deduction_rows(data: dict[str, Any]) -> list[list[Any]]:
    rows = [[r["code"], r["title"], _num(r["self_score"]), _num(r["round1_score"]),
             r["round1_reason"], r["round2_explanation"], "; ".join(r["round2_evidence"]),
             _num(r["proposed_score"]), _num(r["final_score"])] for r in data["rows"]]
    if data["rows"]:
        t = data["totals"]
        rows.append(["", "Tổng cộng", _num(t.get("self_score")), _num(t.get("round1_score")),
                     "", "", "", _num(t.get("proposed_score")), _num(t.get("final_score"))])
    return rows


def _num(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


# --- Layout --------------------------------------------------------------------------

def render_xlsx(sheet: str, title: str, headers: Sequence[str],
                rows: Sequence[Sequence[Any]]) -> bytes:
    book = Workbook(write_only=True)
    ws = book.create_sheet(sheet[:31])
    ws.append([nfc(title)])
    ws.append([nfc(h) for h in headers])
    for row in rows:
        ws.append([_cell(ws, v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _cell(ws: Any, value: Any) -> Any:
    if isinstance(value, Decimal | int) and not isinstance(value, bool):
        # A number stays a number (openpyxl writes Decimal exactly as typed).
        return value
    cell = WriteOnlyCell(ws, value=nfc(value))
    # Text a unit typed ("=HYPERLINK(...)") is a string, never a formula.
    cell.data_type = "s"
    return cell


@one_pdf_at_a_time
def render_pdf(title: str, lines: Sequence[str], headers: Sequence[str],
               rows: Sequence[Sequence[Any]], widths: Sequence[float]) -> bytes:
    regular, bold = _register_fonts()
    body = ParagraphStyle("body", fontName=regular, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=body, fontName=bold)
    big = ParagraphStyle("title", fontName=bold, fontSize=13, leading=16, spaceAfter=4)
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), leftMargin=12 * mm,
                            rightMargin=12 * mm, topMargin=12 * mm, bottomMargin=12 * mm,
                            title=nfc(title))
    story: list[Any] = [Paragraph(escape(nfc(title)), big)]
    story += [Paragraph(escape(nfc(line)), body) for line in lines]
    story.append(Spacer(1, 4 * mm))
    table = [[Paragraph(escape(nfc(h)), head) for h in headers]]
    for row in rows:
        table.append([Paragraph(escape(score(v) if isinstance(v, Decimal) else nfc(v)), body)
                      for v in row])
    total = sum(widths)
    usable = landscape(A4)[0] - 24 * mm
    grid = Table(table, colWidths=[usable * w / total for w in widths], repeatRows=1)
    grid.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story.append(grid)
    doc.build(story)
    return buffer.getvalue()


