"""Evidence over HTTP: the gateway's routes, policy, limits, and the evidence service.

The system runs with the trust list and size limit of ``tests/conftest.py``.
"""

from __future__ import annotations

import io
import time
import uuid
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from minio import Minio

from services.common.contracts import EVIDENCE
from services.common.tests import stores
from services.evidence.tests.pki import CA, plain_pdf, sign
from tests.conftest import EVIDENCE_MAX_BYTES, EVIDENCE_TRUST_ROOTS
from tests.system import System

MB = 1024 * 1024
UPLOAD = "/api/v1/assessments/{aid}/entries/{code}/evidence"


def _generated(size: int) -> Iterator[bytes]:
    yield b"%PDF-1.7\n"
    left = size - 9
    block = b"0" * (256 * 1024)
    while left > 0:
        piece = block[: min(len(block), left)]
        left -= len(piece)
        yield piece


def _multipart(boundary: str, size: int) -> Iterator[bytes]:
    """A multipart body generated as it is sent, with no Content-Length."""
    for name, value in (("doc_number", "7/BC-UBND"), ("title", "Báo cáo lớn")):
        yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
               f"{value}\r\n").encode()
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"lon.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    yield from _generated(size)
    yield f"\r\n--{boundary}--\r\n".encode()


def _stream_upload(http: httpx.Client, headers: dict, aid: int, code: str,
                   size: int) -> httpx.Response:
    boundary = uuid.uuid4().hex
    return http.post(UPLOAD.format(aid=aid, code=code), timeout=120,
                     headers={**headers,
                              "Content-Type": f"multipart/form-data; boundary={boundary}"},
                     content=_multipart(boundary, size))


def test_upload_needs_a_token_and_a_unit_role(http: httpx.Client, make_user) -> None:
    files = {"file": ("a.pdf", b"%PDF-1.7\n", "application/pdf")}
    data = {"doc_number": "1/BC-UBND", "title": "Báo cáo"}
    assert http.post(UPLOAD.format(aid=1, code="2.3"), files=files,
                     data=data).status_code == 401
    _, viewer = make_user(["viewer"])
    refused = http.post(UPLOAD.format(aid=1, code="2.3"), files=files, data=data,
                        headers=viewer)
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden_role"


def test_past_the_limit_is_413_by_length_and_while_streaming(http: httpx.Client,
                                                             make_user) -> None:
    _, leader = make_user(["unit_leader"], unit_code="X-LIMIT")
    declared = http.post(UPLOAD.format(aid=1, code="2.3"), headers=leader,
                         files={"file": ("big.pdf", b"%PDF" + b"0" * (EVIDENCE_MAX_BYTES + MB),
                                         "application/pdf")},
                         data={"doc_number": "1/BC", "title": "x"})
    assert declared.status_code == 413
    streamed = _stream_upload(http, leader, 1, "2.3", EVIDENCE_MAX_BYTES + MB)
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "file_too_large"
    assert streamed.headers["content-type"] == "application/problem+json"


def test_unknown_evidence_is_404(http: httpx.Client, make_user) -> None:
    _, leader = make_user(["unit_leader"], unit_code="X-NONE")
    assert http.get("/api/v1/evidence/999999", headers=leader).status_code == 404
    gone = http.delete(UPLOAD.format(aid=1, code="2.3") + "/999999", headers=leader)
    assert gone.status_code == 404
    assert http.get("/api/v1/evidence/1").status_code == 401


def test_not_multipart_is_400(http: httpx.Client, make_user) -> None:
    _, leader = make_user(["unit_leader"], unit_code="X-BAD")
    response = http.post(UPLOAD.format(aid=1, code="2.3"), headers=leader, json={"a": 1})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_multipart"


def test_routes_are_documented(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    upload = paths["/api/v1/assessments/{aid}/entries/{code}/evidence"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert upload["x-cchc-access"]["roles"] == ["unit_leader", "unit_staff"]
    assert "get" in paths["/api/v1/evidence/{evidence_id}"]
    assert "delete" in paths["/api/v1/assessments/{aid}/entries/{code}/evidence/{evidence_id}"]


# --- The whole flow: a unit with an open window, its leader, the test's CA ----------

CATALOG = {
    "name": "Bộ tiêu chí thử tài liệu kiểm chứng 2023",
    "year": 2023,
    "unit_type": "commune",
    "bands": [{"min": 90, "label": "Xuất sắc"}, {"min": 0, "label": "Yếu"}],
    "nodes": [{
        "code": "2", "title": "Cải cách thể chế", "max": 4,
        "children": [
            {"code": "2.3", "title": "Báo cáo CCHC quý", "max": 2,
             "rule": {"kind": "range", "step": 0.25}, "evidence": "required",
             "appraised_by": "SNV"},
            {"code": "2.4", "title": "Biểu mẫu thống kê", "max": 2,
             "rule": {"kind": "range", "step": 0.25}, "evidence": "required",
             "form_allowed": True, "appraised_by": "SNV"},
        ],
    }],
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


@pytest.fixture(scope="module")
def ca() -> CA:
    ca = CA("CA thử nghiệm tỉnh")
    ca.write_pem(EVIDENCE_TRUST_ROOTS, f"test-{uuid.uuid4().hex[:6]}.pem")
    return ca


def _campaign(http: httpx.Client, admin: dict, unit: str, locks_at: datetime) -> int:
    catalog = http.post("/api/v1/catalogs", json=CATALOG, headers=admin)
    assert catalog.status_code == 201, catalog.text
    now = datetime.now(UTC)
    campaign = http.post("/api/v1/campaigns", headers=admin, json={
        "name": f"Đợt thử {unit}", "year": 2023, "catalog_id": catalog.json()["id"],
        "unit_codes": [unit],
        "windows": {"self_assessment": {"opens_at": _iso(now - timedelta(days=1)),
                                        "locks_at": _iso(locks_at)}},
    })
    assert campaign.status_code == 201, campaign.text
    return campaign.json()["id"]


class Unit:
    def __init__(self, http: httpx.Client, headers: dict, aid: int) -> None:
        self.http, self.headers, self.aid = http, headers, aid

    def upload(self, data: bytes, code: str = "2.3", filename: str = "bao-cao.pdf",
               **meta: str) -> httpx.Response:
        fields = {"doc_number": "25/BC-UBND", "doc_date": "2023-03-31",
                  "title": "Báo cáo CCHC quý I/2023", "section": "Mục II.1", **meta}
        return self.http.post(UPLOAD.format(aid=self.aid, code=code),
                              headers=self.headers, data=fields,
                              files={"file": (filename, data, "application/pdf")})


_shared: dict[str, object] = {}


@pytest.fixture
def open_unit(http: httpx.Client, admin_headers: dict, make_user) -> Unit:
    """A unit with an open self-assessment window, made once for the module."""
    if not _shared:
        code = f"X-EV{uuid.uuid4().hex[:4].upper()}"
        created = http.post("/api/v1/units", headers=admin_headers,
                            json=[{"code": code, "name": "Xã Hương Vinh", "type": "commune"}])
        assert created.status_code in (200, 201), created.text
        cid = _campaign(http, admin_headers, code, datetime.now(UTC) + timedelta(days=7))
        _, headers = make_user(["unit_leader"], unit_code=code)
        assessment = http.get(f"/api/v1/campaigns/{cid}/assessments/{code}", headers=headers)
        assert assessment.status_code == 200, assessment.text
        _shared.update(headers=headers, aid=assessment.json()["id"])
    return Unit(http, _shared["headers"], _shared["aid"])  # type: ignore[arg-type]


def _objects(system: System) -> list[Path]:
    return sorted((system.log_dir / "data" / "evidence" / "sha256").glob("*"))


def test_signed_pdf_is_stored_checked_and_downloaded(open_unit: Unit, ca: CA) -> None:
    data = sign(plain_pdf(), ca.signer("UBND xã Hương Vinh"))
    created = open_unit.upload(data)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["canonical_name"] == "2.3_so 25BC-UBND_BC CCHC quy I.2023"
    signature = body["checks"]["signature"]
    assert signature["state"] == "valid"
    assert "UBND xã Hương Vinh" in signature["signatures"][0]["signer"]
    entry = next(e for e in open_unit.http.get(f"/api/v1/assessments/{open_unit.aid}",
                                               headers=open_unit.headers).json()["entries"]
                 if e["code"] == "2.3")
    shown = next(e for e in entry["evidence"] if e["id"] == body["id"])
    assert shown["checks"]["signature"]["state"] == "valid"
    got = open_unit.http.get(f"/api/v1/evidence/{body['id']}", headers=open_unit.headers)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "application/pdf"
    assert "2.3_so%2025BC-UBND_BC%20CCHC%20quy%20I.2023.pdf" in got.headers[
        "content-disposition"]


def test_untrusted_tampered_and_unsigned_are_told_apart(open_unit: Unit, ca: CA) -> None:
    signed = sign(plain_pdf("khac"), CA("CA lạ").signer())
    assert open_unit.upload(signed).json()["checks"]["signature"]["state"] == "untrusted"
    good = sign(plain_pdf("Bao cao sua"), ca.signer())
    at = good.index(b"Bao cao")
    tampered = good[:at] + b"X" + good[at + 1:]
    assert open_unit.upload(tampered).json()["checks"]["signature"]["state"] == "broken"
    unsigned = open_unit.upload(plain_pdf("chua ky"))
    assert unsigned.json()["checks"]["signature"]["state"] == "absent"
    corrupt = open_unit.upload(b"%PDF-1.7\nnot a pdf at all")
    assert corrupt.status_code == 201
    assert corrupt.json()["checks"]["signature"]["state"] == "unreadable"


def _docx() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return out.getvalue()


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("bao-cao.pdf", plain_pdf())
    return out.getvalue()


@pytest.mark.parametrize("data", [_zip(), _docx(), b"MZ\x90\x00" + b"\x00" * 200],
                         ids=["zip-renamed-pdf", "docx", "exe"])
def test_refused_types_by_content(open_unit: Unit, system: System, data: bytes) -> None:
    before = _objects(system)
    refused = open_unit.upload(data, filename="bao-cao.pdf")
    assert refused.status_code == 415, refused.text
    assert refused.json()["code"] == "file_type_refused"
    assert refused.headers["content-type"] == "application/problem+json"
    assert _objects(system) == before


def test_office_file_where_the_criterion_asks_for_a_form(open_unit: Unit) -> None:
    created = open_unit.upload(_docx(), code="2.4", filename="bieu-mau.docx")
    assert created.status_code == 201, created.text
    assert created.json()["checks"]["type"]["kind"] == "office"
    assert created.json()["filename"].endswith(".docx")


def test_letter_suffix_and_date_outside_the_year(open_unit: Unit) -> None:
    created = open_unit.upload(plain_pdf("30a"), doc_number="30a/KH-SXD",
                               doc_date="2022-12-30", title="Kế hoạch CCHC")
    assert created.status_code == 201, created.text
    assert [f["code"] for f in created.json()["checks"]["flags"]] == [
        "doc_number_letter_suffix", "doc_date_outside_year"]


def test_one_document_for_two_criteria_is_stored_once(open_unit: Unit, system: System,
                                                      ca: CA) -> None:
    data = sign(plain_pdf("dung chung"), ca.signer())
    first = open_unit.upload(data, code="2.3")
    before = _objects(system)
    second = open_unit.upload(data, code="2.4")
    assert first.status_code == second.status_code == 201
    assert second.json()["canonical_name"].startswith("2.4_so 25BC-UBND")
    assert _objects(system) == before


def test_others_may_not_download(open_unit: Unit, make_user, ca: CA) -> None:
    created = open_unit.upload(sign(plain_pdf("rieng"), ca.signer()))
    _, stranger = make_user(["unit_leader"], unit_code="X-OTHER")
    got = open_unit.http.get(f"/api/v1/evidence/{created.json()['id']}", headers=stranger)
    assert got.status_code in (403, 404)
    assert open_unit.http.get("/api/v1/evidence/1").status_code == 401


def test_delete_then_gone(open_unit: Unit, system: System) -> None:
    created = open_unit.upload(plain_pdf("xoa"))
    eid = created.json()["id"]
    deleted = open_unit.http.delete(UPLOAD.format(aid=open_unit.aid, code="2.3") + f"/{eid}",
                                    headers=open_unit.headers)
    assert deleted.status_code == 204, deleted.text
    got = open_unit.http.get(f"/api/v1/evidence/{eid}", headers=open_unit.headers)
    assert got.status_code == 404
    sha = created.json()["checks"]["sha256"]
    assert not (system.log_dir / "data" / "evidence" / "sha256" / sha).exists()


def test_locked_window_refuses_and_keeps_nothing(http: httpx.Client, admin_headers: dict,
                                                 make_user, system: System) -> None:
    code = f"X-LK{uuid.uuid4().hex[:4].upper()}"
    http.post("/api/v1/units", headers=admin_headers,
              json=[{"code": code, "name": "Xã đã khóa", "type": "commune"}])
    cid = _campaign(http, admin_headers, code, datetime.now(UTC) + timedelta(seconds=3))
    _, headers = make_user(["unit_leader"], unit_code=code)
    aid = http.get(f"/api/v1/campaigns/{cid}/assessments/{code}", headers=headers).json()["id"]
    unit = Unit(http, headers, aid)
    kept = unit.upload(plain_pdf("truoc khi khoa"))
    assert kept.status_code == 201, kept.text
    time.sleep(3.5)
    before = _objects(system)
    refused = unit.upload(plain_pdf("tre han"))
    assert refused.status_code == 423, refused.text
    assert refused.json()["code"] == "window_locked"
    assert _objects(system) == before
    eid = kept.json()["id"]
    locked_delete = http.delete(UPLOAD.format(aid=aid, code="2.3") + f"/{eid}", headers=headers)
    assert locked_delete.status_code == 423
    assert http.get(f"/api/v1/evidence/{eid}", headers=headers).status_code == 200


def _peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def test_a_50_mb_upload_does_not_grow_the_gateway_by_50_mb(open_unit: Unit,
                                                           system: System) -> None:
    pid = system.processes["gateway"].pid
    before = _peak_rss(pid)
    response = _stream_upload(open_unit.http, open_unit.headers, open_unit.aid, "2.3", 50 * MB)
    assert response.status_code == 201, response.text
    assert response.json()["checks"]["size"] == 50 * MB
    grown = _peak_rss(pid) - before
    print(f"\ngateway peak RSS grew by {grown / 1e6:.1f} MB for a 50 MB upload")
    assert grown < 20 * MB


# --- The same flow with the store in S3: moto's server on loopback, the real SDK ------


@pytest.fixture
def s3_system(system: System) -> Iterator[tuple[System, Minio, str]]:
    """The session's gateway and evidence service restarted on S3, then put back."""
    with stores.moto_s3() as endpoint:
        yield from _on_s3(system, endpoint)


def _on_s3(system: System, endpoint: str) -> Iterator[tuple[System, Minio, str]]:
    bucket = f"evidence-{uuid.uuid4().hex[:8]}"
    s3_env = {"CCHC_EVIDENCE_STORE": "s3", "CCHC_EVIDENCE_S3_ENDPOINT": endpoint,
              "CCHC_EVIDENCE_S3_BUCKET": bucket, "CCHC_EVIDENCE_S3_ACCESS_KEY": stores.ACCESS_KEY,
              "CCHC_EVIDENCE_S3_SECRET_KEY": stores.SECRET_KEY,
              "CCHC_EVIDENCE_S3_REGION": stores.REGION}
    saved = dict(system.env)

    def restart() -> None:
        system.kill("gateway")
        system.kill(EVIDENCE)
        system.start_service(EVIDENCE)
        system.start_gateway()
        system.wait_ready()

    system.env.update(s3_env)
    try:
        restart()
        yield system, stores.s3_client(endpoint), bucket
    finally:
        system.env.clear()
        system.env.update(saved)
        restart()


def test_the_s3_store_through_the_whole_system(s3_system, open_unit: Unit, ca: CA) -> None:
    _, client, bucket = s3_system
    data = sign(plain_pdf("luu tren S3"), ca.signer())
    created = open_unit.upload(data)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["checks"]["signature"]["state"] == "valid"
    keys = [o.object_name for o in client.list_objects(bucket, recursive=True)]
    assert keys == [f"sha256/{body['checks']['sha256']}"]
    got = open_unit.http.get(f"/api/v1/evidence/{body['id']}", headers=open_unit.headers)
    assert got.status_code == 200 and got.content == data
    refused = open_unit.upload(_zip())
    assert refused.status_code == 415
    deleted = open_unit.http.delete(UPLOAD.format(aid=open_unit.aid, code="2.3")
                                    + f"/{body['id']}", headers=open_unit.headers)
    assert deleted.status_code == 204
    assert list(client.list_objects(bucket, recursive=True)) == []
