"""Bảng tổng hợp đã ký: the signed summary must be the one this system generated.

The summary PDF carries ``cchc-summary:<assessment id>:<digest>`` (contracts'
SUMMARY_MARKER_PREFIX), where the digest is the SHA-256 of what the table shows.
The evidence service's checker lists, per signature, the markers inside the bytes
that signature covers. A sending is accepted when one intact signature (trusted or
not: an unknown signer is reported, not refused) covers this assessment's marker with
the digest of its entries now; anything else is a 422 with the reason.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from services.common.contracts import SUMMARY_MARKER_PREFIX
from services.common.errors import DomainError

# Signature states of the evidence checker (services/evidence/signatures.py).
ACCEPTED_STATES: Final = frozenset({"valid", "untrusted"})
BROKEN_STATES: Final = frozenset({"broken", "modified", "unreadable"})


def digest(shown: Mapping[str, Any]) -> str:
    """SHA-256 of what the summary table shows (campaign, unit, rows, totals)."""
    text = json.dumps(shown, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def marker(assessment_id: int, table_digest: str) -> str:
    return f"{SUMMARY_MARKER_PREFIX}:{assessment_id}:{table_digest}"


def _refused(code: str, detail: str, **extra: Any) -> DomainError:
    return DomainError(code, detail, 422, extra)


def accept(check: Mapping[str, Any], assessment_id: int, table_digest: str) -> dict[str, Any]:
    """The accepted signature ``{state, signer, issuer, signing_time, trusted}``, or 422."""
    signatures = list(check.get("signatures") or [])
    if check.get("state") == "absent" or not signatures:
        raise _refused(
            "signed_summary_unsigned",
            "Bảng tổng hợp chưa được ký số; hãy ký số bảng do phần mềm xuất ra rồi gửi lại / "
            "the summary carries no digital signature; sign the summary this system "
            "generated and send it again")
    state = check.get("state")
    if state in BROKEN_STATES:
        raise _refused(
            "signed_summary_signature_broken",
            "Chữ ký số trên bảng tổng hợp không còn nguyên vẹn hoặc tệp bị sửa sau khi ký / "
            "the summary's signature is broken or the file was changed after signing",
            signature_state=state)
    wanted = marker(assessment_id, table_digest)
    good = [s for s in signatures if s.get("state") in ACCEPTED_STATES]
    for signature in good:
        if wanted in (signature.get("signed_markers") or []):
            return {key: signature.get(key)
                    for key in ("state", "signer", "issuer", "signing_time", "trusted")}
    markers = {m for s in good for m in s.get("signed_markers") or []}
    mine = [m for m in markers if m.split(":")[1:2] == [str(assessment_id)]]
    if mine:
        raise _refused(
            "signed_summary_outdated",
            "Bảng tổng hợp đã ký không khớp số liệu hiện tại (đã có thay đổi sau khi xuất); "
            "hãy xuất lại, ký số và gửi / the signed summary does not match the entries now "
            "(they changed after it was generated); generate it again, sign and send")
    if markers:
        raise _refused(
            "signed_summary_other_assessment",
            "Bảng tổng hợp đã ký là của một bản đánh giá khác / the signed summary belongs "
            "to another assessment")
    raise _refused(
        "signed_summary_not_generated",
        "Tệp đã ký không phải bảng tổng hợp do phần mềm xuất ra cho đơn vị này / the signed "
        "file is not the summary this system generated for this assessment")
