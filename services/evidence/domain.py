"""Rules on evidence (tài liệu kiểm chứng), pure functions on plain data.

From the seeds: evidence is a PDF or an image; archives and office files are refused
unless the criterion asks for a form; a document number with a letter suffix
(``30a/KH-SXD``) scores 0; files are named ``<code>_<number>_<short title>``.
The gateway imports ``sniff_kind`` to tell the type while an upload streams, so this
module imports nothing of nameko.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from datetime import date
from typing import Any, Final

PDF: Final = "pdf"
JPEG: Final = "jpeg"
PNG: Final = "png"
OFFICE: Final = "office"
ARCHIVE: Final = "archive"
EXECUTABLE: Final = "executable"
UNKNOWN: Final = "unknown"

ACCEPTED: Final = frozenset({PDF, JPEG, PNG})

MEDIA_TYPES: Final = {
    PDF: "application/pdf",
    JPEG: "image/jpeg",
    PNG: "image/png",
    OFFICE: "application/octet-stream",
}
EXTENSIONS: Final = {PDF: ".pdf", JPEG: ".jpg", PNG: ".png"}
# An office form keeps the extension it came with, when it is one of these.
OFFICE_EXTENSIONS: Final = frozenset({".doc", ".docx", ".xls", ".xlsx", ".odt", ".ods", ".rtf"})

_ZIP = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
# Names found in the first entries of OOXML (docx, xlsx, pptx) and ODF packages.
_OFFICE_MARKERS = (b"[Content_Types].xml", b"word/", b"xl/", b"ppt/",
                   b"mimetypeapplication/vnd.oasis.opendocument")
_ARCHIVES = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00",
             b"MSCF")
_EXECUTABLES = (b"MZ", b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe", b"#!")


def sniff_kind(head: bytes) -> str:
    """The file's type from its first bytes, never from its name."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(_ZIP):
        return OFFICE if any(m in head for m in _OFFICE_MARKERS) else ARCHIVE
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") or head.startswith(b"{\\rtf"):
        return OFFICE  # legacy .doc/.xls (OLE2) and RTF
    if head.startswith(_ARCHIVES) or head[257:262] == b"ustar":
        return ARCHIVE
    if head.startswith(_EXECUTABLES):
        return EXECUTABLE
    # PDF readers accept the header anywhere in the first KiB; looked for last, so that a
    # zip holding an uncompressed PDF is still a zip.
    if b"%PDF-" in head[:1024]:
        return PDF
    return UNKNOWN


def find_node(nodes: list[dict[str, Any]], code: str) -> dict[str, Any] | None:
    """A node of a criteria tree by its code, at any depth."""
    for node in nodes:
        if node.get("code") == code:
            return node
        found = find_node(node.get("children") or [], code)
        if found is not None:
            return found
    return None


def extension(kind: str, original_name: str | None) -> str:
    """The file name's extension, from the content (an office form: from its own name)."""
    if kind == OFFICE and original_name and "." in original_name:
        ext = "." + original_name.rsplit(".", 1)[1].lower()
        return ext if ext in OFFICE_EXTENSIONS else ""
    return EXTENSIONS.get(kind, "")


def type_accepted(kind: str, form_allowed: bool) -> bool:
    """PDF and images always; office files only where the criterion asks for a form."""
    return kind in ACCEPTED or (kind == OFFICE and form_allowed)


# "30a/KH-SXD", "25 b/BC-UBND", "12-A/QĐ-UBND": letters glued to the number before the slash.
_LETTER_SUFFIX = re.compile(r"^\s*(?:s[oố]\s*)?\d+\s*[-.]?\s*[^\W\d_]+\s*/", re.IGNORECASE)


def has_letter_suffix(doc_number: str) -> bool:
    return bool(_LETTER_SUFFIX.match(doc_number))


def flags(
    doc_number: str, doc_date: date | None, campaign_year: int | None
) -> list[dict[str, Any]]:
    """The seeds' rules on the document's number and date; each flag scores the proof 0."""
    found: list[dict[str, Any]] = []
    if has_letter_suffix(doc_number):
        found.append({
            "code": "doc_number_letter_suffix",
            "detail": "Số văn bản có chữ cái sau số (như 30a/KH-SXD): tiêu chí được 0 điểm / "
                      "a document number with a letter suffix scores 0",
        })
    if doc_date is not None and campaign_year is not None and doc_date.year != campaign_year:
        found.append({
            "code": "doc_date_outside_year",
            "detail": f"Văn bản ngày {doc_date.isoformat()} không thuộc năm đánh giá "
                      f"{campaign_year} / the document is dated outside the campaign's year",
            "campaign_year": campaign_year,
        })
    return found


def attachment_key(sha256: str, doc_number: str, doc_date: date | None, title: str,
                   section: str | None) -> str:
    """One attachment: the file's content and what the unit said of it.

    The same bytes under another number, date, title or section are another
    attachment with checks of their own; the same bytes with the same description
    again are a re-send of the one already there.
    """
    described = json.dumps([sha256, doc_number, doc_date.isoformat() if doc_date else None,
                            title, section], ensure_ascii=False)
    return hashlib.sha256(described.encode()).hexdigest()


def fold(text: str) -> str:
    """Vietnamese without diacritics: ``Báo cáo quý`` → ``Bao cao quy``."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


# Document types at the head of a title, shortened as the seeds' example does ("BC CCHC").
_ABBREVIATIONS = (
    ("bao cao", "BC"), ("ke hoach", "KH"), ("quyet dinh", "QD"), ("cong van", "CV"),
    ("thong bao", "TB"), ("nghi quyet", "NQ"), ("chi thi", "CT"), ("to trinh", "TTr"),
    ("bien ban", "BB"), ("huong dan", "HD"),
)
_UNSAFE = re.compile(r'[\\:*?"<>|\x00-\x1f\x7f]')
_SPACES = re.compile(r"\s+")
MAX_TITLE: Final = 80


def _clean(text: str) -> str:
    return _SPACES.sub(" ", _UNSAFE.sub(" ", text)).strip()


def canonical_name(code: str, doc_number: str, title: str) -> str:
    """``<code>_so <number>_<short title>``: ``2.3_so 25BC-UBND_BC CCHC quy I.2023``.

    As in the seed, the slash of a document number is dropped (25/BC-UBND → 25BC-UBND)
    and a slash in the title becomes a dot (quý I/2023 → quy I.2023): names must be
    safe on every file system.
    """
    number = _clean(fold(doc_number).replace("/", ""))
    number = re.sub(r"^so\s*", "", number, flags=re.IGNORECASE)
    short = _clean(fold(title).replace("/", "."))
    lowered = short.lower()
    for words, abbreviation in _ABBREVIATIONS:
        if lowered.startswith(words + " ") or lowered == words:
            short = abbreviation + short[len(words):]
            break
    short = short[:MAX_TITLE].rstrip(" .")
    return f"{_clean(code)}_so {number}_{short}"
