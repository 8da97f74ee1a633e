"""The evidence service in a real container on the real broker, with submission and
criteria played by small services of the test: the whole upload flow, pyhanko inside a
nameko worker (through eventlet's tpool), and a refusal coming back across two hops."""

import io
import socket
from pathlib import Path
from typing import Any

import eventlet
import pytest
from nameko.rpc import rpc
from nameko.standalone.rpc import ServiceRpcProxy

from services.common.errors import DomainError
from services.common.migrate import upgrade
from services.common.objectstore import FolderStore, object_key, store_upload
from services.common.sniffing import sniff_kind
from services.evidence.service import Service
from services.evidence.tests.pki import CA, plain_pdf, sign

LOCKED_CODE = "9.1"
# Codes that reached attach_evidence, i.e. past the signature check.
ATTACHED: list[str] = []


class Submission:
    name = "submission"

    @rpc(expected_exceptions=DomainError)
    def check_writable(self, assessment_id: int, code: str, actor: dict) -> dict[str, Any]:
        if actor.get("unit_code") != "X1":
            raise DomainError("not_your_unit", "Không phải đơn vị của bạn / not your unit", 403)
        if code not in {"2.3", LOCKED_CODE}:
            raise DomainError("not_found", "Không tìm thấy tiêu chí / criterion not found", 404)
        if code == LOCKED_CODE:
            raise DomainError("window_locked", "Đã hết hạn, phần mềm đã khóa / locked", 423)
        return {"campaign_id": 3, "catalog_id": 11, "year": 2023}

    @rpc(expected_exceptions=DomainError)
    def attach_evidence(self, assessment_id: int, code: str, evidence: dict,
                        actor: dict) -> dict[str, Any]:
        ATTACHED.append(code)
        if code == LOCKED_CODE:
            raise DomainError("window_locked", "Đã hết hạn, phần mềm đã khóa / locked", 423)
        return {"code": code, "evidence": [evidence]}


class Criteria:
    name = "criteria"

    @rpc
    def get_catalog(self, catalog_id: int) -> dict[str, Any]:
        return {"id": catalog_id, "nodes": [{"code": "2", "children": [{"code": "2.3"}]}]}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def config(container_factory, rabbit_config, sqlite_url, tmp_path: Path, trust_dir: Path,
           monkeypatch) -> dict:
    monkeypatch.setenv("CCHC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CCHC_EVIDENCE_STORE", "folder")
    monkeypatch.setenv("CCHC_EVIDENCE_TRUST_ROOTS", str(trust_dir))
    upgrade("evidence", sqlite_url)
    config = {**rabbit_config, "DATABASE_URL": sqlite_url,
              "WEB_SERVER_ADDRESS": f"127.0.0.1:{_free_port()}"}
    for service in (Service, Submission, Criteria):
        container_factory(service, config).start()
    return config


ACTOR = {"username": "staff.x1", "roles": ["unit_staff"], "unit_code": "X1"}
META = {"doc_number": "25/BC-UBND", "doc_date": "2023-03-31",
        "title": "Báo cáo CCHC quý I/2023", "section": "Mục II"}


def _store(tmp_path: Path, data: bytes) -> dict:
    seen = store_upload(FolderStore(tmp_path / "data" / "evidence"), io.BytesIO(data), 10**8)
    return {"sha256": seen.sha256, "size": seen.size, "kind": sniff_kind(seen.head)}


def test_upload_flow_over_the_bus(config: dict, tmp_path: Path, ca: CA) -> None:
    upload = _store(tmp_path, sign(plain_pdf(), ca.signer()))
    with ServiceRpcProxy("evidence", config) as evidence:
        answer = evidence.add_evidence(7, "2.3", upload, META, ACTOR)
        assert answer["checks"]["signature"]["state"] == "valid"
        assert answer["canonical_name"] == "2.3_so 25BC-UBND_BC CCHC quy I.2023"
        assert evidence.list_evidence(7) == [answer]


def test_a_lock_refusal_crosses_two_hops_and_undoes_the_upload(config: dict, tmp_path: Path,
                                                               ca: CA) -> None:
    upload = _store(tmp_path, sign(plain_pdf("locked"), ca.signer()))
    with ServiceRpcProxy("evidence", config) as evidence:
        with pytest.raises(DomainError) as err:
            evidence.add_evidence(7, LOCKED_CODE, upload, META, ACTOR)
        assert (err.value.code, err.value.status) == ("window_locked", 423)
        assert evidence.list_evidence(7) == []
    # Refused before the signature check: it never got as far as attaching.
    assert LOCKED_CODE not in ATTACHED
    store = FolderStore(tmp_path / "data" / "evidence")
    assert not store.exists(object_key(upload["sha256"]))


def test_a_large_signed_pdf_is_checked_beside_other_calls(config: dict, tmp_path: Path,
                                                          ca: CA) -> None:
    """A 16 MB signed PDF validated in a worker (tpool) while another call is served."""
    big = _store(tmp_path, sign(plain_pdf(padding=15 * 1024 * 1024), ca.signer()))
    with ServiceRpcProxy("evidence", config) as evidence, \
            ServiceRpcProxy("evidence", config) as other:
        pending = eventlet.spawn(evidence.add_evidence, 7, "2.3", big, META, ACTOR)
        assert other.health()["status"] == "ok"
        assert pending.wait()["checks"]["signature"]["state"] == "valid"
