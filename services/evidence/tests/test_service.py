import hashlib
import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nameko.testing.services import worker_factory
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.errors import DomainError
from services.common.objectstore import ObjectStore, object_key, store_upload
from services.common.sniffing import sniff_kind
from services.evidence.files import Files
from services.evidence.models import Document, Evidence
from services.evidence.service import Service
from services.evidence.tests.pki import CA, plain_pdf, sign

ACTOR = {"username": "staff.x1", "roles": ["unit_staff"], "unit_code": "X1"}
META = {"doc_number": "25/BC-UBND", "doc_date": "2023-03-31",
        "title": "Báo cáo CCHC quý I/2023", "section": "Mục II.1, trang 3"}


@pytest.fixture
def service(session: Session, store: ObjectStore, trust_dir: Path):
    svc = worker_factory(Service, db=session, files=Files(store, trust_dir))

    def check_writable(assessment_id: int, code: str, actor: dict) -> dict:
        if code not in {"1.1", "2.3", "5.1"}:
            raise DomainError("not_found", "Không tìm thấy tiêu chí / criterion not found", 404)
        return {"campaign_id": 3, "catalog_id": 11, "year": 2023}

    svc.submission.check_writable.side_effect = check_writable
    svc.criteria.get_catalog.return_value = {"id": 11, "nodes": [
        {"code": "1", "children": [{"code": "1.1", "form_allowed": False}]},
        {"code": "2", "children": [{"code": "2.3"}]},
        {"code": "5", "children": [{"code": "5.1", "form_allowed": True}]}]}
    return svc


def upload(service, data: bytes, code: str = "2.3", meta: dict | None = None,
           aid: int = 7) -> dict:
    seen = store_upload(service.files.store, io.BytesIO(data), limit=20 * 1024 * 1024)
    return service.add_evidence(
        aid, code, {"sha256": seen.sha256, "size": seen.size, "kind": sniff_kind(seen.head),
                    "original_name": "bao cao.pdf"}, meta or META, ACTOR)


def _count(session: Session, model) -> int:
    count = session.scalar(select(func.count()).select_from(model))
    session.rollback()  # the service begins its own transactions on this session
    return count


def test_signed_pdf_is_recorded_checked_and_attached(service, ca: CA) -> None:
    answer = upload(service, sign(plain_pdf(), ca.signer()))
    assert answer["canonical_name"] == "2.3_so 25BC-UBND_BC CCHC quy I.2023"
    assert answer["filename"] == "2.3_so 25BC-UBND_BC CCHC quy I.2023.pdf"
    assert answer["checks"]["type"] == {"kind": "pdf", "media_type": "application/pdf"}
    assert answer["checks"]["signature"]["state"] == "valid"
    assert answer["checks"]["flags"] == []
    (aid, code, evidence, actor), _ = service.submission.attach_evidence.call_args
    assert (aid, code, evidence["id"], actor["username"]) == (7, "2.3", answer["id"], "staff.x1")
    assert evidence["name"] == answer["filename"]
    service.criteria.get_catalog.assert_called_with(11)
    assert service.get_evidence(answer["id"])["checks"] == answer["checks"]


def test_one_document_for_several_criteria_is_stored_once(service, session, ca) -> None:
    data = sign(plain_pdf(), ca.signer())
    first = upload(service, data, code="2.3")
    second = upload(service, data, code="1.1")
    again = upload(service, data, code="1.1")
    assert first["sha256"] == second["sha256"]
    assert second["canonical_name"].startswith("1.1_so 25BC-UBND")
    assert again["id"] == second["id"]
    assert _count(session, Document) == 1 and _count(session, Evidence) == 2
    assert service.submission.attach_evidence.call_count == 3
    assert [e["code"] for e in service.list_evidence(7)] == ["1.1", "2.3"]


def test_letter_suffix_and_date_outside_the_year_are_flagged(service) -> None:
    answer = upload(service, plain_pdf(), meta={**META, "doc_number": "30a/KH-SXD",
                                                "doc_date": "2022-12-30"})
    assert [f["code"] for f in answer["checks"]["flags"]] == [
        "doc_number_letter_suffix", "doc_date_outside_year"]
    assert answer["checks"]["campaign_year"] == 2023
    (_, _, attached, _), _ = service.submission.attach_evidence.call_args
    assert len(attached["checks"]["flags"]) == 2
    assert answer["checks"]["signature"]["state"] == "absent"


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _zip_named_pdf() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("bao-cao.pdf", plain_pdf())
    return out.getvalue()


@pytest.mark.parametrize("data", [_zip_named_pdf(), b"MZ\x90\x00" + b"\x00" * 100,
                                  b"Rar!\x1a\x07\x00" + b"\x00" * 50],
                         ids=["zip-named-pdf", "exe", "rar"])
def test_refused_types_leave_nothing(service, session, data: bytes) -> None:
    with pytest.raises(DomainError) as err:
        upload(service, data)
    assert (err.value.status, err.value.code) == (415, "file_type_refused")
    assert _count(session, Evidence) == 0
    assert not service.submission.attach_evidence.called
    assert not service.files.store.exists(object_key(_sha(data)))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_office_file_refused_unless_the_criterion_asks_for_a_form(service, session) -> None:
    with pytest.raises(DomainError) as err:
        upload(service, _docx(), code="1.1")
    assert err.value.status == 415
    assert not service.submission.attach_evidence.called
    assert _count(session, Evidence) == 0
    assert not service.files.store.exists(object_key(_sha(_docx())))

    answer = upload(service, _docx(), code="5.1")
    assert answer["checks"]["type"]["kind"] == "office"
    assert answer["filename"] == answer["canonical_name"]  # its name, "bao cao.pdf", lies


def test_unknown_criterion_or_unseen_assessment_keeps_nothing(service, session) -> None:
    with pytest.raises(DomainError) as err:
        upload(service, plain_pdf(), code="9.9")
    assert err.value.status == 404
    service.submission.check_writable.side_effect = DomainError(
        "not_your_unit", "Không phải đơn vị của bạn / not your unit", 403)
    with pytest.raises(DomainError) as err:
        upload(service, plain_pdf())
    assert err.value.status == 403
    assert _count(session, Evidence) == 0
    assert not service.files.store.exists(object_key(_sha(plain_pdf())))


def test_locked_window_undoes_the_upload(service, session, ca) -> None:
    service.submission.attach_evidence.side_effect = DomainError(
        "window_locked", "Đã khóa / locked", 423)
    data = sign(plain_pdf(), ca.signer())
    with pytest.raises(DomainError) as err:
        upload(service, data)
    assert err.value.status == 423
    assert _count(session, Evidence) == 0 and _count(session, Document) == 0
    assert not service.files.store.exists(object_key(_sha(data)))


def test_the_same_file_again_after_the_lock_is_refused_and_kept(service, session) -> None:
    first = upload(service, plain_pdf())
    service.submission.attach_evidence.side_effect = DomainError("window_locked", "khóa", 423)
    with pytest.raises(DomainError) as err:
        upload(service, plain_pdf())
    assert err.value.status == 423
    assert [e["id"] for e in service.list_evidence(7)] == [first["id"]]
    assert service.files.store.exists(object_key(first["sha256"]))


def test_refusal_keeps_an_object_another_criterion_uses(service, session, ca) -> None:
    data = sign(plain_pdf(), ca.signer())
    kept = upload(service, data, code="1.1")
    service.submission.attach_evidence.side_effect = DomainError("forbidden", "Không / no", 403)
    with pytest.raises(DomainError):
        upload(service, data, code="2.3")
    assert _count(session, Evidence) == 1
    assert service.files.store.exists(object_key(kept["sha256"]))


def test_remove_asks_submission_and_deletes_the_last_copy(service, session, ca) -> None:
    data = sign(plain_pdf(), ca.signer())
    a = upload(service, data, code="1.1")
    b = upload(service, data, code="2.3")
    service.remove_evidence(7, "1.1", a["id"], ACTOR)
    assert service.files.store.exists(object_key(a["sha256"]))
    service.submission.detach_evidence.side_effect = DomainError("window_locked", "khóa", 423)
    with pytest.raises(DomainError):
        service.remove_evidence(7, "2.3", b["id"], ACTOR)
    assert _count(session, Evidence) == 1
    service.submission.detach_evidence.side_effect = None
    service.remove_evidence(7, "2.3", b["id"], ACTOR)
    assert _count(session, Evidence) == 0
    assert not service.files.store.exists(object_key(a["sha256"]))


def test_remove_of_someone_elses_evidence_is_not_found(service, ca) -> None:
    a = upload(service, plain_pdf())
    with pytest.raises(DomainError) as err:
        service.remove_evidence(8, "2.3", a["id"], ACTOR)
    assert err.value.status == 404
    assert not service.submission.detach_evidence.called


def test_bad_metadata_is_invalid_input(service) -> None:
    with pytest.raises(DomainError) as err:
        upload(service, plain_pdf(), meta={**META, "doc_number": "", "doc_date": "31/03/2023"})
    assert err.value.code == "invalid_input"
    assert {e["loc"][0] for e in err.value.extra["errors"]} == {"doc_number", "doc_date"}
    assert not service.files.store.exists(object_key(_sha(plain_pdf())))


def test_unknown_upload_is_refused(service) -> None:
    with pytest.raises(DomainError) as err:
        service.add_evidence(7, "2.3", {"sha256": "0" * 64, "size": 1, "kind": "pdf"}, META,
                             ACTOR)
    assert err.value.code == "upload_missing"


def test_corrupt_pdf_is_recorded_as_unreadable(service) -> None:
    answer = upload(service, b"%PDF-1.7\nbroken")
    assert answer["checks"]["signature"]["state"] == "unreadable"


def test_sweep_drops_what_nobody_recorded(service, ca) -> None:
    kept = upload(service, sign(plain_pdf(), ca.signer()))
    orphan = store_upload(service.files.store, io.BytesIO(b"%PDF-1.7 orphan"), limit=1000)
    service.files.store.put("incoming/half-way", io.BytesIO(b"%PDF-1.7 half"))
    service.sweep_before(datetime.now(UTC) - timedelta(hours=1))
    assert service.files.store.exists(object_key(orphan.sha256))  # too young to be an orphan
    service.sweep_before(datetime.now(UTC) + timedelta(minutes=1))
    assert not service.files.store.exists(object_key(orphan.sha256))
    assert not service.files.store.exists("incoming/half-way")
    assert service.files.store.exists(object_key(kept["sha256"]))


def test_a_sets_forms_are_asked_of_criteria_once(service, ca) -> None:
    """A set in use never changes: its tree is fetched for the first upload only, and a
    criterion that accepts a form still does on the next upload."""
    service.criteria.get_catalog.reset_mock()
    data = sign(plain_pdf(), ca.signer())
    upload(service, data, code="2.3")
    upload(service, data, code="1.1")
    with pytest.raises(DomainError):
        upload(service, _docx(), code="1.1")  # no form there
    form = upload(service, _docx(), code="5.1")
    assert service.criteria.get_catalog.call_count == 1
    assert form["checks"]["type"]["kind"] == "office"
