"""Digital signatures of evidence PDFs, checked offline against the province's trust list.

The seeds require evidence signed by the issuing body; the council needs to see, per
signature, whether the signed bytes are intact, whether the signer chains to a root
the province trusts, who signed and when, and whether the file was changed after
signing. Nothing is fetched (no OCSP, no CRL download): the trust list is a folder of
PEM roots (``CCHC_EVIDENCE_TRUST_ROOTS``).

Plain blocking code, run by the evidence service in warm child processes
(``python -m services.evidence.signatures --serve``, ``files.check_in_subprocess``):
parsing is CPU work with no upper bound on a hostile file, and a child process can be
given a time limit and killed.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko_certvalidator import ValidationContext

ABSENT: Final = "absent"
VALID: Final = "valid"
UNTRUSTED: Final = "untrusted"
BROKEN: Final = "broken"
MODIFIED: Final = "modified"
UNREADABLE: Final = "unreadable"

# Worst first: the document's state is that of its worst signature.
_SEVERITY: Final = (UNREADABLE, BROKEN, MODIFIED, UNTRUSTED, VALID)

# Organisation certificates issued in Viet Nam often carry digitalSignature without
# nonRepudiation; pyhanko's default demands nonRepudiation. Either one is accepted here;
# a certificate with neither (an encryption-only certificate) still fails.
KEY_USAGE: Final = KeyUsageConstraints(
    key_usage={"digital_signature", "non_repudiation"}, match_all_key_usages=False
)

# pyhanko logs a failed chain as a traceback; it is a result here, not an error.
logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko.sign.validation").setLevel(logging.CRITICAL)
logging.getLogger("pyhanko.sign.diff_analysis").setLevel(logging.CRITICAL)


def load_trust_roots(folder: Path | None) -> list[x509.Certificate]:
    """Every certificate in the ``*.pem``/``*.crt``/``*.cer`` files of ``folder``."""
    if folder is None or not folder.is_dir():
        return []
    roots: list[x509.Certificate] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in {".pem", ".crt", ".cer"}:
            continue
        data = path.read_bytes()
        if pem.detect(data):
            roots.extend(x509.Certificate.load(der) for _, _, der in pem.unarmor(data, True))
        else:
            roots.append(x509.Certificate.load(data))
    return roots


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# Markers a generated document carries (contracts.SUMMARY_MARKER_PREFIX), found only
# in the bytes a signature covers: text added after signing does not count.
_MARKER = re.compile(rb"cchc-summary:[0-9]{1,10}:[0-9a-f]{64}")


def _signed_markers(sig: Any, data: bytes) -> list[str]:
    start, first, second, length = sig.byte_range
    covered = data[start:start + first] + data[second:second + length]
    return sorted({m.decode() for m in _MARKER.findall(covered)})


def _signature(sig: Any, roots: list[x509.Certificate], data: bytes) -> dict[str, Any]:
    context = ValidationContext(trust_roots=roots, allow_fetching=False,
                                revocation_mode="soft-fail")
    status = validate_pdf_signature(sig, context, key_usage_settings=KEY_USAGE)
    coverage = status.coverage.name if status.coverage else None
    changed = coverage != "ENTIRE_FILE"
    modification = status.modification_level.name if status.modification_level else None
    if not status.intact or not status.valid:
        state = BROKEN
    elif status.docmdp_ok is False or modification == "OTHER":
        state = MODIFIED
    elif not status.trusted:
        state = UNTRUSTED
    else:
        state = VALID
    cert = status.signing_cert
    return {
        "field": sig.field_name,
        "state": state,
        "intact": bool(status.intact),
        "trusted": bool(status.trusted),
        "signer": cert.subject.human_friendly if cert is not None else None,
        "issuer": cert.issuer.human_friendly if cert is not None else None,
        "signing_time": _iso(status.signer_reported_dt),
        "changed_after_signing": changed,
        "coverage": coverage,
        "modification_level": modification,
        "summary": status.summary(),
        "signed_markers": _signed_markers(sig, data),
    }


# Readers accept "%%EOF" within the last KiB; pyhanko looks for it byte by byte from the
# end, which takes seconds per megabyte on a file that has none (15 s for 5 MB).
_TAIL = 1024


def _has_trailer(f: BinaryIO) -> bool:
    f.seek(0, 2)
    size = f.tell()
    f.seek(max(0, size - _TAIL))
    tail = f.read()
    f.seek(0)
    return b"%%EOF" in tail and b"startxref" in tail


def check_pdf(path: Path, roots: list[x509.Certificate]) -> dict[str, Any]:
    """``{"state", "signatures": [...]}``; never raises on a bad file."""
    try:
        with open(path, "rb") as f:
            if not _has_trailer(f):
                return {"state": UNREADABLE, "signatures": [],
                        "reason": "no startxref/%%EOF in the last 1024 bytes: not a whole PDF"}
            reader = PdfFileReader(f, strict=True)
            embedded = list(reader.embedded_signatures)
            if not embedded:
                return {"state": ABSENT, "signatures": []}
            f.seek(0)
            data = f.read()
            results = []
            for sig in embedded:
                try:
                    results.append(_signature(sig, roots, data))
                except Exception as exc:  # one unreadable signature must not hide the others
                    results.append({"field": getattr(sig, "field_name", None),
                                    "state": UNREADABLE, "reason": str(exc)[:300]})
    except Exception as exc:  # a corrupt or hostile file fails anywhere in the parser
        return {"state": UNREADABLE, "signatures": [],
                "reason": f"{type(exc).__name__}: {exc}"[:300]}
    state = min((r["state"] for r in results), key=_SEVERITY.index)
    return {"state": state, "signatures": results}


def serve(requests: Iterable[str], answers: TextIO) -> None:
    """One check per request line ``{"path", "roots"}``, one JSON line back each.

    The evidence service keeps a few of these children warm (``files.Checker``):
    starting Python and importing pyhanko cost 0.65 s of CPU per file, the check of a
    1 MB signed PDF about 25 ms. The trust list is read at every request, so a root
    added to the folder counts at once.
    """
    # pyhanko logs a failed chain as a traceback; the result already says why.
    logging.disable(logging.CRITICAL)
    for line in requests:
        request = json.loads(line)
        roots = load_trust_roots(Path(request["roots"])) if request.get("roots") else []
        answers.write(json.dumps(check_pdf(Path(request["path"]), roots),
                                 ensure_ascii=False) + "\n")
        answers.flush()


def main(argv: list[str]) -> int:
    """``--serve``: checks requested on stdin (``serve``); ``<pdf> [<trust roots
    folder>]``: that one file's result as JSON on stdout."""
    if argv[:1] == ["--serve"]:
        serve(sys.stdin, sys.stdout)
        return 0
    roots = load_trust_roots(Path(argv[1])) if len(argv) > 1 and argv[1] else []
    json.dump(check_pdf(Path(argv[0]), roots), sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
