"""Digital signatures of evidence PDFs, checked offline against the province's trust list.

The seeds require evidence signed by the issuing body; the council needs to see, per
signature, whether the signed bytes are intact, whether the signer chains to a root
the province trusts, who signed and when, and whether the file was changed after
signing. Nothing is fetched (no OCSP, no CRL download): the trust list is a folder of
PEM roots (``CCHC_EVIDENCE_TRUST_ROOTS``).

Plain blocking code: the evidence service runs it in a real thread (eventlet's tpool)
because hashing and parsing a large PDF is CPU work that would stall other workers.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Final

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


def _signature(sig: Any, roots: list[x509.Certificate]) -> dict[str, Any]:
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
    }


def check_pdf(path: Path, roots: list[x509.Certificate]) -> dict[str, Any]:
    """``{"state", "signatures": [...]}``; never raises on a bad file."""
    try:
        with open(path, "rb") as f:
            reader = PdfFileReader(f, strict=False)
            embedded = list(reader.embedded_signatures)
            if not embedded:
                return {"state": ABSENT, "signatures": []}
            results = []
            for sig in embedded:
                try:
                    results.append(_signature(sig, roots))
                except Exception as exc:  # one unreadable signature must not hide the others
                    results.append({"field": getattr(sig, "field_name", None),
                                    "state": UNREADABLE, "reason": str(exc)[:300]})
    except Exception as exc:  # a corrupt or hostile file fails anywhere in the parser
        return {"state": UNREADABLE, "signatures": [],
                "reason": f"{type(exc).__name__}: {exc}"[:300]}
    state = min((r["state"] for r in results), key=_SEVERITY.index)
    return {"state": state, "signatures": results}
