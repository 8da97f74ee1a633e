"""The XLSX form of a criteria set (the template admins fill in), both ways.

The one criteria module that touches a file format (openpyxl); it reads and writes
bytes in memory and leaves files and the network to the service.
"""

from __future__ import annotations

import io
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font

from services.criteria.catalog import (
    CRITERIA_SHEET,
    META_SHEET,
    XLSX_COLUMNS,
    Catalog,
    CatalogInvalid,
    DeductionRule,
    Node,
    OptionsRule,
    Problem,
    RangeRule,
    clean_text,
    decimal_text,
    walk,
)
from services.criteria.parse import parse_catalog
from services.criteria.problems import problem

# --- XLSX --------------------------------------------------------------------


def _escape_label(label: str) -> str:
    return label.replace("\\", "\\\\").replace(";", "\\;")


def _split_options(text: str) -> list[str]:
    """Split "a=1; b\\;c=0.5" on unescaped semicolons, unescaping as it goes."""
    items, current, chars = [], [], iter(text)
    for char in chars:
        if char == "\\":
            current.append(next(chars, ""))
        elif char == ";":
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def _xlsx_text(value: str) -> str:
    return ILLEGAL_CHARACTERS_RE.sub("", unicodedata.normalize("NFC", value))


def _append_row(sheet: Any, values: Sequence[Any]) -> None:
    sheet.append([_xlsx_text(v) if isinstance(v, str) else v for v in values])
    for cell in sheet[sheet.max_row]:
        # Text a unit typed as "=HYPERLINK(...)" must stay text, not become a formula.
        if isinstance(cell.value, str) and cell.value.startswith("="):
            cell.data_type = "s"


def _parent_row(node: Node) -> list[Any]:
    """A parent's row: only the settings it declares for the nodes under it."""
    declared = dict(node.settings)
    return [None, None, None, None, declared.get("evidence"),
            declared.get("not_applicable_allowed"), declared.get("appraised_by"), None]


def _leaf_row(node: Node) -> list[Any]:
    rule = node.rule
    options = step = per_item = None
    if isinstance(rule, OptionsRule):
        options = "; ".join(
            f"{_escape_label(o.label)}={decimal_text(o.score)}" for o in rule.options
        )
    elif isinstance(rule, RangeRule):
        step = rule.step
    elif isinstance(rule, DeductionRule):
        per_item = rule.per_item
    return [
        rule.kind if rule else None,
        options,
        step,
        per_item,
        node.evidence,
        node.not_applicable_allowed,
        node.appraised_by,
        node.form_allowed,
    ]


def catalog_to_xlsx(catalog: Catalog) -> bytes:
    """Xuất bộ tiêu chí ra Excel: sheet "criteria" (one row per node) and "meta"."""
    book = Workbook()
    sheet = book.active
    sheet.title = CRITERIA_SHEET
    _append_row(sheet, XLSX_COLUMNS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for node, depth in walk(catalog.nodes):
        row = [node.code, node.title, node.max]
        row += _parent_row(node) if node.children else _leaf_row(node)
        _append_row(sheet, row)
        sheet.cell(sheet.max_row, 2).alignment = Alignment(indent=depth, wrap_text=True)
        if node.children:
            for cell in sheet[sheet.max_row][:3]:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for letter, width in zip("ABCDE", (10, 70, 8, 11, 45), strict=True):
        sheet.column_dimensions[letter].width = width

    meta = book.create_sheet(META_SHEET)
    _append_row(meta, ["name", catalog.name])
    _append_row(meta, ["year", catalog.year])
    _append_row(meta, ["unit_type", catalog.unit_type])
    for band in catalog.bands:
        _append_row(meta, ["band", band.min, band.label])

    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cell_code(value: Any) -> Any:
    # A code typed into a General cell arrives as a number; keep its written form.
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    return value


def _cell_flag(value: Any) -> Any:
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def _cell_year(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _row_to_node(row: Mapping[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "code": _cell_code(row.get("code")),
        "title": row.get("title"),
        "max": row.get("max"),
    }
    kind = row.get("rule")
    if kind is not None:
        rule: dict[str, Any] = {"kind": clean_text(kind) if isinstance(kind, str) else kind}
        if row.get("options") is not None:
            rule["options"] = [
                {"label": label, "score": score}
                for label, _, score in (
                    item.rpartition("=") for item in _split_options(str(row["options"]))
                )
            ]
        for key in ("step", "per_item"):
            if row.get(key) is not None:
                rule[key] = row[key]
        node["rule"] = rule
    for key in ("evidence", "appraised_by"):
        if row.get(key) is not None:
            node[key] = clean_text(row[key]) if isinstance(row[key], str) else row[key]
    for key in ("not_applicable_allowed", "form_allowed"):
        if row.get(key) is not None:
            node[key] = _cell_flag(row[key])
    return node


# An XLSX is a zip: a 2 MB upload can unpack to gigabytes (shared strings are read
# whole into memory). A real criteria set unpacks to well under a megabyte.
XLSX_MAX_UNPACKED_BYTES = 32 * 1024 * 1024
XLSX_MAX_MEMBERS = 256


def _refuse_zip_bomb(data: bytes) -> None:
    """Refuses a workbook whose parts would unpack past the caps, before reading any.

    ``zipfile`` never yields more than a member's declared size (a member that unpacks
    to more fails its check), so the declared sizes are a safe bound.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise CatalogInvalid([problem("bad_xlsx", "", type(exc).__name__)]) from exc
    unpacked = sum(m.file_size for m in members)
    if len(members) > XLSX_MAX_MEMBERS or unpacked > XLSX_MAX_UNPACKED_BYTES:
        raise CatalogInvalid([problem("xlsx_too_large", "",
                                       f"{len(members)} parts, {unpacked} bytes unpacked")])


def catalog_from_xlsx(data: bytes) -> Catalog:
    """Nhập bộ tiêu chí từ Excel, as written by `catalog_to_xlsx`.

    The tree is rebuilt from the codes (2.3 goes under 2), rows in any order; the
    same validation as `parse_catalog` applies and every problem is listed.
    """
    _refuse_zip_bomb(data)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # any malformed upload is bad input, never a crash
        raise CatalogInvalid([problem("bad_xlsx", "", type(exc).__name__)]) from exc
    try:
        if CRITERIA_SHEET not in book.sheetnames or META_SHEET not in book.sheetnames:
            raise CatalogInvalid([problem("missing_sheet", "")])
        criteria_rows = list(book[CRITERIA_SHEET].iter_rows(values_only=True))
        meta_rows = list(book[META_SHEET].iter_rows(values_only=True))
    finally:
        book.close()

    problems: list[Problem] = []
    header = [
        str(h).strip().lower() if h is not None else ""
        for h in (criteria_rows[0] if criteria_rows else ())
    ]
    for column in ("code", "title", "max"):
        if column not in header:
            problems.append(problem("missing_column", CRITERIA_SHEET, column))

    flat: list[tuple[int, dict[str, Any]]] = []
    for number, values in enumerate(criteria_rows[1:], start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
            continue
        row = dict(zip(header, values, strict=False))
        flat.append((number, _row_to_node(row)))

    # First occurrence wins, so a duplicated code still reaches the validator.
    by_code: dict[str, dict[str, Any]] = {}
    for _, node in flat:
        if isinstance(node["code"], str):
            by_code.setdefault(node["code"].strip(), node)
    roots: list[dict[str, Any]] = []
    for number, node in flat:
        code = node["code"].strip() if isinstance(node["code"], str) else ""
        parent_code = code.rpartition(".")[0]
        if not parent_code:
            roots.append(node)
        elif parent_code in by_code:
            by_code[parent_code].setdefault("children", []).append(node)
        else:
            problems.append(
                problem("no_parent_row", f"{CRITERIA_SHEET}!A{number}", code)
            )

    try:
        catalog = parse_catalog({**_meta_from_rows(meta_rows), "nodes": roots})
    except CatalogInvalid as invalid:
        problems.extend(invalid.problems)
    if problems:
        raise CatalogInvalid(problems)
    return catalog


def _meta_from_rows(rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    meta: dict[str, Any] = {"bands": []}
    for values in rows:
        cells = [*values, None, None, None]
        key = str(cells[0]).strip() if cells[0] is not None else ""
        if key == "band":
            meta["bands"].append({"min": cells[1], "label": cells[2]})
        elif key in ("name", "year", "unit_type"):
            meta[key] = cells[1]
    meta["year"] = _cell_year(meta.get("year"))
    return meta
