"""Signed PDFs for the benchmarks: a test CA, a ~1 MB PDF it really signed, and as many
byte-distinct copies of it as a run needs, each still a valid signature.

The evidence service checks a PDF's signatures once per content (a second upload of
the same SHA-256 reuses the first check), so a benchmark that sent the same bytes again
would time the check only once. Signing a fresh 1 MB PDF costs ~170 ms of pyhanko here,
more than the check it is meant to exercise; instead ``variant`` writes a counter into
the zero padding that pyhanko reserves after the signature's DER in ``/Contents``. That
hex string is the one part of a signed PDF outside the signed byte range, and readers
stop at the end of the DER, so every copy checks ``valid`` with coverage ``ENTIRE_FILE``
and costs the checker exactly what a freshly signed file would.

Only the standard library and the tests' PKI (services/evidence/tests/pki.py) are
imported, so the locust child of bench/mixed_rush.py can load it under gevent.
"""

from __future__ import annotations

import re
import struct
import sys
from pathlib import Path
from typing import BinaryIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

# This checkout's services and tests, not those of the installed copy.
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.evidence.tests.pki import CA, plain_pdf, sign  # noqa: E402

MB = 1024 * 1024
# The hex digits ``variant`` overwrites at the end of the padding (a 64-bit counter).
_MARK_DIGITS = 16
_CONTENTS = re.compile(rb"/Contents\s*<([0-9a-fA-F]+)>")


def make_ca(trust_roots: Path, common_name: str = "CA thử nghiệm benchmark") -> CA:
    """A new CA whose root is written into the system's trust list folder."""
    ca = CA(common_name)
    ca.write_pem(trust_roots, "bench-root.pem")
    return ca


def save_ca(ca: CA, folder: Path) -> None:
    """Key and certificate as PEM, for another process to sign with the same CA."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ca-key.pem").write_bytes(ca.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / "ca-cert.pem").write_bytes(ca.pem())


def load_ca(folder: Path) -> CA:
    """The CA ``save_ca`` wrote. ``CA()`` would make a new key; only ``key`` and
    ``cert`` are what ``CA.signer`` uses, so they are set on a bare instance."""
    ca = CA.__new__(CA)
    ca.key = serialization.load_pem_private_key((folder / "ca-key.pem").read_bytes(), None)
    ca.cert = x509.load_pem_x509_certificate((folder / "ca-cert.pem").read_bytes())
    return ca


def signed_pdf(ca: CA, size: int = MB, text: str = "Bao cao CCHC quy IV/2025") -> bytes:
    """A one-page PDF of about ``size`` bytes, signed by a signer ``ca`` issued."""
    # plain_pdf pads its content stream; the signature adds ~8 KB on top.
    return sign(plain_pdf(text, padding=max(0, size - 9 * 1024)),
                ca.signer("UBND xã Giờ Chót"))


def variant(signed: bytes, n: int) -> bytes:
    """``signed`` with ``n`` written into its signature's padding: other bytes, same
    valid signature (see the module's docstring)."""
    found = list(_CONTENTS.finditer(signed))
    if not found:
        raise ValueError("no /Contents hex string: not a signed PDF")
    start, end = found[-1].span(1)
    if signed[end - _MARK_DIGITS:end].strip(b"0"):
        raise ValueError("the signature has no zero padding to write into")
    mark = b"%016x" % (n & 0xFFFF_FFFF_FFFF_FFFF)
    return signed[:end - _MARK_DIGITS] + mark + signed[end:]


# --- Length-prefixed frames over a pipe (the mixed rush's signer process) -------------


def write_frame(out: BinaryIO, data: bytes) -> None:
    out.write(struct.pack(">Q", len(data)) + data)
    out.flush()


def read_frame(source: BinaryIO) -> bytes | None:
    """The next frame, or None at end of input."""
    head = _read_exactly(source, 8)
    if head is None:
        return None
    body = _read_exactly(source, struct.unpack(">Q", head)[0])
    if body is None:
        raise EOFError("the frame ended early")
    return body


def _read_exactly(source: BinaryIO, n: int) -> bytes | None:
    parts: list[bytes] = []
    left = n
    while left:
        chunk = source.read(left)
        if not chunk:
            return None
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)
