"""Evidence service: files in object storage and their signature checks (tài liệu kiểm chứng).

File bytes never come over the bus: the gateway streams an upload into the store and
calls ``add_evidence`` with what it saw (hash, size, type). The lock of the window is
the submission service's to decide: every upload and delete asks it first, or undoes
its own write when it refuses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.common import sniffing
from services.common.base import ServiceBase
from services.common.contracts import CRITERIA, EVIDENCE, SIGNED_SUMMARY_PREFIX, SUBMISSION
from services.common.errors import DomainError, not_found
from services.common.validation import parse
from services.evidence import domain
from services.evidence.files import EvidenceFiles
from services.evidence.models import Document, Evidence
from services.evidence.schemas import Actor, EvidenceMeta, StoredUpload
from services.evidence.signatures import ABSENT

SWEEP_SECONDS = 600
ORPHAN_AGE = timedelta(hours=1)

# Per evidence database (tests run several in one process) and set: the criteria of a
# set in use never change, and a province has a few sets a year.
_forms_allowed: dict[tuple[str, int], dict[str, bool]] = {}


def _refused_type(kind: str) -> DomainError:
    return DomainError(
        "file_type_refused",
        "Chỉ nhận tệp PDF hoặc ảnh (JPEG, PNG); tệp nén, tệp Word/Excel (trừ biểu mẫu) và "
        "tệp chạy được không được nhận / only PDF, JPEG and PNG are accepted; archives, "
        "office files (except required forms) and executables are refused",
        415, {"kind": kind},
    )


def _view(row: Evidence, document: Document) -> dict[str, Any]:
    return {
        "id": row.id,
        "assessment_id": row.assessment_id,
        "code": row.code,
        "sha256": row.sha256,
        "size": document.size,
        "kind": document.kind,
        "media_type": document.media_type,
        "doc_number": row.doc_number,
        "doc_date": row.doc_date.isoformat() if row.doc_date else None,
        "title": row.title,
        "section": row.section,
        "original_name": row.original_name,
        "canonical_name": row.canonical_name,
        "filename": row.canonical_name + domain.extension(document.kind, row.original_name),
        "checks": row.checks,
        "uploaded_by": row.uploaded_by,
        # SQLite hands datetimes back without their zone; they are stored in UTC.
        "created_at": (row.created_at if row.created_at.tzinfo
                       else row.created_at.replace(tzinfo=UTC)).astimezone(UTC).isoformat(),
    }


class Service(ServiceBase):
    name = EVIDENCE

    files = EvidenceFiles()
    submission = RpcProxy(SUBMISSION)
    criteria = RpcProxy(CRITERIA)

    @rpc(expected_exceptions=DomainError)
    def add_evidence(self, assessment_id: int, code: str, upload: dict[str, Any],
                     meta: dict[str, Any], actor: dict[str, Any]) -> dict[str, Any]:
        """Record a stored upload as evidence of one criterion, then attach it to the entry."""
        stored = parse(StoredUpload, upload)
        if not self.files.exists(stored.sha256):
            raise DomainError("upload_missing",
                              "Không thấy tệp đã tải lên / the uploaded file is not in the store",
                              422)
        # Any refusal before the evidence is recorded drops the stored file, unless other
        # evidence already links to the same content.
        try:
            data = parse(EvidenceMeta, meta)
            who = parse(Actor, actor)
            if stored.kind not in sniffing.ACCEPTED | {sniffing.OFFICE}:
                raise _refused_type(stored.kind)
            # The write check before the signature check: unassigned staff, an unknown
            # criterion or an upload after the lock must not cost a check.
            context = self._criterion_context(assessment_id, code, who.model_dump())
            if not domain.type_accepted(stored.kind, context["form_allowed"]):
                raise _refused_type(stored.kind)
        except DomainError:
            self._forget_if_unused(stored.sha256)
            raise

        try:
            row, created = self._record(assessment_id, code, stored, data, who.username,
                                        context["year"])
        except IntegrityError:
            # The same attachment for the same criterion, sent twice at once: the other won.
            row, created = self._record(assessment_id, code, stored, data, who.username,
                                        context["year"])
        view = self.get_evidence(row.id)
        try:
            # Asked even for a file already linked: after the lock, nothing is "uploaded".
            self.submission.attach_evidence(
                assessment_id, code, {"id": view["id"], "name": view["filename"],
                                      "sha256": view["sha256"], "checks": view["checks"],
                                      "doc_number": view["doc_number"],
                                      "doc_date": view["doc_date"], "title": view["title"],
                                      "section": view["section"]},
                who.model_dump())
        except DomainError:
            if created:
                self._unlink(row.id)
            raise
        return view

    @rpc(expected_exceptions=DomainError)
    def get_evidence(self, evidence_id: int) -> dict[str, Any]:
        with self.db.begin():
            row = self.db.get(Evidence, evidence_id)
            if row is None:
                raise not_found("tài liệu kiểm chứng / evidence", str(evidence_id))
            return _view(row, self.db.get(Document, row.sha256))

    @rpc(expected_exceptions=DomainError)
    def check_signed_summary(self, ref: str) -> dict[str, Any]:
        """The same checks as evidence, on a signed summary the gateway stored."""
        if not isinstance(ref, str) or not ref.startswith(SIGNED_SUMMARY_PREFIX) or ".." in ref \
                or not self.files.store.exists(ref):
            raise not_found("bảng tổng hợp đã ký / signed summary", str(ref)[:200])
        return self.files.check_key(ref)

    @rpc
    def list_evidence(self, assessment_id: int, code: str | None = None) -> list[dict[str, Any]]:
        query = (select(Evidence, Document).join(Document)
                 .where(Evidence.assessment_id == assessment_id)
                 .order_by(Evidence.code, Evidence.id))
        if code is not None:
            query = query.where(Evidence.code == code)
        with self.db.begin():
            return [_view(row, document) for row, document in self.db.execute(query)]

    @rpc(expected_exceptions=DomainError)
    def remove_evidence(self, assessment_id: int, code: str, evidence_id: int,
                        actor: dict[str, Any]) -> None:
        """Detach first: the submission service refuses once the window is locked (423)."""
        with self.db.begin():
            row = self.db.get(Evidence, evidence_id)
            if row is None or row.assessment_id != assessment_id or row.code != code:
                raise not_found("tài liệu kiểm chứng / evidence", str(evidence_id))
        self.submission.detach_evidence(assessment_id, code, evidence_id,
                                        parse(Actor, actor).model_dump())
        self._unlink(evidence_id)

    @timer(interval=SWEEP_SECONDS)
    def sweep_orphans(self) -> None:
        """Drop files nobody recorded: a gateway that died mid-upload, or an RPC that timed
        out after the file was stored. Old enough that no upload is still on its way."""
        self.sweep_before(datetime.now(UTC) - ORPHAN_AGE)

    def sweep_before(self, moment: datetime) -> None:
        incoming, hashes = self.files.stale(moment)
        for key in incoming:
            self.files.store.delete(key)
        for start in range(0, len(hashes), 500):
            batch = hashes[start:start + 500]
            with self.db.begin():
                known = set(self.db.scalars(select(Document.sha256)
                                            .where(Document.sha256.in_(batch))))
            for sha256 in set(batch) - known:
                self.files.delete(sha256)

    def _criterion_context(self, assessment_id: int, code: str,
                           actor: dict[str, Any]) -> dict[str, Any]:
        """The campaign's year and whether the criterion asks for a form.

        Asked of the services that own them: submission, whether ``actor`` may write this
        criterion now (403/404/423) and its campaign; criteria, the criterion in the
        campaign's set. Not the whole assessment: its entries and their evidence grow
        with every upload.
        """
        campaign = self.submission.check_writable(assessment_id, code, actor)
        return {"year": campaign.get("year"),
                "form_allowed": self._forms_allowed(campaign["catalog_id"]).get(code, False)}

    def _forms_allowed(self, catalog_id: int) -> dict[str, bool]:
        """Which criteria of a set accept an office form, by code.

        Asked only for a campaign's set, which criteria no longer lets change
        (use_catalog): kept per process instead of fetching the whole tree per upload.
        """
        key = (str(self.db.get_bind().url), catalog_id)
        known = _forms_allowed.get(key)
        if known is None:
            catalog = self.criteria.get_catalog(catalog_id)
            known = {node["code"]: bool(node.get("form_allowed"))
                     for node in domain.walk(catalog.get("nodes", []))}
            _forms_allowed[key] = known
        return known

    def _record(self, assessment_id: int, code: str, stored: StoredUpload,
                data: EvidenceMeta, username: str, year: int | None) -> tuple[Evidence, bool]:
        with self.db.begin():
            document = self.db.get(Document, stored.sha256)
        signature: dict[str, Any] = {}
        if document is None:
            signature = (self.files.check_signatures(stored.sha256) if stored.kind == sniffing.PDF
                         else {"state": ABSENT, "signatures": [], "applies": False})
        key = domain.attachment_key(stored.sha256, data.doc_number, data.doc_date, data.title,
                                    data.section)
        with self.db.begin():
            existing = self.db.scalar(select(Evidence).where(
                Evidence.assessment_id == assessment_id, Evidence.code == code,
                Evidence.attachment_key == key))
            if existing is not None:
                return existing, False
            document = self.db.get(Document, stored.sha256)
            if document is None:
                document = Document(sha256=stored.sha256, size=stored.size, kind=stored.kind,
                                    media_type=sniffing.MEDIA_TYPES[stored.kind],
                                    signature=signature, created_at=datetime.now(UTC))
                self.db.add(document)
            checks = {
                "type": {"kind": document.kind, "media_type": document.media_type},
                "signature": document.signature,
                "flags": domain.flags(data.doc_number, data.doc_date, year),
                "campaign_year": year,
                "sha256": document.sha256,
                "size": document.size,
            }
            row = Evidence(
                sha256=stored.sha256, attachment_key=key, assessment_id=assessment_id, code=code,
                doc_number=data.doc_number, doc_date=data.doc_date, title=data.title,
                section=data.section, original_name=stored.original_name,
                canonical_name=domain.canonical_name(code, data.doc_number, data.title),
                checks=checks, uploaded_by=username, created_at=datetime.now(UTC),
            )
            self.db.add(row)
        return row, True

    def _unlink(self, evidence_id: int) -> None:
        with self.db.begin():
            row = self.db.get(Evidence, evidence_id)
            sha256 = row.sha256 if row is not None else None
            if row is not None:
                self.db.delete(row)
        if sha256 is not None:
            self._forget_if_unused(sha256)

    def _forget_if_unused(self, sha256: str) -> bool:
        """Delete the stored object (and its document row) when no evidence links to it."""
        with self.db.begin():
            used = self.db.scalar(select(func.count()).select_from(Evidence)
                                  .where(Evidence.sha256 == sha256))
            if used:
                return False
            document = self.db.get(Document, sha256)
            if document is not None:
                self.db.delete(document)
        self.files.delete(sha256)
        return True
