"""A file's type from its first bytes, never from its name (content sniffing).

The gateway tells the type while an upload streams (it keeps the head, see
services/common/objectstore.py's ``Ingest``); the evidence service decides from it
what is accepted and how the file is named and served. Pure functions on bytes.
"""

from __future__ import annotations

from typing import Final

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
