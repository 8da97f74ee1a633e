"""Rules on evidence (tài liệu kiểm chứng), pure functions on plain data.

From the seeds: evidence is a PDF or an image; archives and office files are refused
unless the criterion asks for a form; a document number with a letter suffix
(``30a/KH-SXD``) scores 0; files are named ``<code>_<number>_<short title>``.
Telling a file's type by its content is services/common/sniffing.py's, which the
gateway uses while an upload streams.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import Any, Final

from services.common.sniffing import ACCEPTED, EXTENSIONS, OFFICE, OFFICE_EXTENSIONS


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every node of a criteria tree, parents before their children."""
    for node in nodes:
        yield node
        yield from walk(node.get("children") or [])


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
