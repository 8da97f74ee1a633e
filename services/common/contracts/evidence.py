"""evidence: tài liệu kiểm chứng, the files behind each criterion, and their checks.

File bytes never cross the bus: the gateway streams an upload into the store
(services/common/objectstore.py: a folder, or S3 through minio), content-addressed as
"sha256/<hex>", and sends what it saw. A timer drops stored files no evidence records,
an hour after they were stored.

evidence calls submission.check_writable before checking a PDF,
submission.get_assessment_by_id (campaign_id, the entries' codes; the caller's right
to see it), submission.get_campaign (year, catalog_id), criteria.get_catalog
(form_allowed), submission.attach_evidence and submission.detach_evidence.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Protocol, TypedDict

from services.common.contracts.shared import Actor, ServiceRpc

FileKind = Literal["pdf", "jpeg", "png", "office", "archive", "executable", "unknown"]


class Upload(TypedDict):
    """What the gateway saw while it streamed the file into the store."""

    sha256: str
    size: int
    kind: FileKind
    original_name: str | None


class EvidenceMeta(TypedDict):
    """What the unit says of the document (số, ngày, trích yếu, phần chứng minh)."""

    doc_number: str
    doc_date: NotRequired[str | None]  # YYYY-MM-DD
    title: str
    section: NotRequired[str | None]


class SignatureCheck(TypedDict):
    """``state`` valid | untrusted | broken | modified | unreadable | absent; each
    signature {field, state, intact, trusted, signer, issuer, signing_time,
    changed_after_signing, coverage, modification_level, summary, signed_markers}."""

    state: str
    signatures: list[dict[str, Any]]
    reason: NotRequired[str]
    applies: NotRequired[bool]


class FileType(TypedDict):
    kind: str
    media_type: str


class Flag(TypedDict):
    """``code`` doc_number_letter_suffix | doc_date_outside_year."""

    code: str
    detail: str


class Checks(TypedDict):
    type: FileType
    sha256: str
    size: int
    campaign_year: int | None
    signature: SignatureCheck
    flags: list[Flag]


class Evidence(TypedDict):
    """``canonical_name`` as "2.3_so 25BC-UBND_BC CCHC quy I.2023"; ``filename`` is it
    with the file's extension."""

    id: int
    assessment_id: int
    code: str
    sha256: str
    size: int
    kind: str
    media_type: str
    doc_number: str
    doc_date: str | None
    title: str
    section: str | None
    original_name: str | None
    canonical_name: str
    filename: str
    checks: Checks
    uploaded_by: str
    created_at: str


class EvidenceRpc(ServiceRpc, Protocol):
    def add_evidence(self, assessment_id: int, code: str, upload: Upload, meta: EvidenceMeta,
                     actor: Actor) -> Evidence:
        """Records a stored upload as evidence of one criterion, then attaches it to the
        entry (submission.attach_evidence; the upload is undone when it refuses).

        One evidence per (assessment, code, content, description): the same bytes under
        another doc_number/doc_date/title/section are a new evidence with its own checks
        (the bytes stored once); the same description again answers the existing one.
        415 ``file_type_refused`` (office files only where the criterion has
        form_allowed), 403/404 as submission.get_assessment_by_id, 404 unknown
        criterion, 423 ``window_locked`` / 403 from submission, 422 ``invalid_input`` /
        ``upload_missing``.
        """
        ...

    def get_evidence(self, evidence_id: int) -> Evidence:
        """404 when there is none."""
        ...

    def check_signed_summary(self, ref: str) -> SignatureCheck:
        """The evidence checker on a stored signed summary ("signed-summaries/..."); 404
        when no such object; called by submission.submit."""
        ...

    def list_evidence(self, assessment_id: int, code: str | None = None) -> list[Evidence]:
        ...

    def remove_evidence(self, assessment_id: int, code: str, evidence_id: int,
                        actor: Actor) -> None:
        """Asks submission.detach_evidence first (423 once locked); the stored object goes
        with the last evidence that links to it."""
        ...
