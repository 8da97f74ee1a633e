"""What a user enters is what the system keeps (issue 10), over HTTP into the real system.

Campaign fields, precheck, score inputs, ids, inherited criteria fields, evidence
metadata per attachment and the signed summary's checks.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.evidence.tests.pki import CA, plain_pdf, sign, update_after_signing
from tests.conftest import EVIDENCE_TRUST_ROOTS
from tests.system import System
from tests.test_submission import SMALL, _finish, put

UPLOAD = "/api/v1/assessments/{aid}/entries/{code}/evidence"


@pytest.fixture(scope="module")
def ca() -> CA:
    ca = CA("CA thử nghiệm tỉnh (issue 10)")
    ca.write_pem(EVIDENCE_TRUST_ROOTS, f"test-{uuid.uuid4().hex[:6]}.pem")
    return ca


def _catalog(http: httpx.Client, admin: dict[str, str], body: dict[str, Any] = SMALL) -> int:
    created = http.post("/api/v1/catalogs", headers=admin, json=body)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def _campaign_body(catalog_id: int, units: list[str], **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"name": "Đánh giá CCHC 2025", "year": 2025, "catalog_id": catalog_id,
            "unit_codes": units,
            "windows": {"self_assessment": {
                "opens_at": (now - timedelta(hours=1)).isoformat(),
                "locks_at": (now + timedelta(hours=1)).isoformat()}}, **extra}


def _upload(http: httpx.Client, aid: int, code: str, headers: dict[str, str], content: bytes,
            doc_number: str, doc_date: str = "2025-03-05", title: str = "Kế hoạch CCHC năm 2025",
            section: str = "Mục II") -> httpx.Response:
    return http.post(UPLOAD.format(aid=aid, code=code), headers=headers,
                     files={"file": ("tai-lieu.pdf", content, "application/pdf")},
                     data={"doc_number": doc_number, "doc_date": doc_date, "title": title,
                           "section": section})


def test_campaign_keeps_cutoff_reminders_and_unranked_units(http, admin_headers, unit) -> None:
    first, second = unit(), unit()
    catalog_id = _catalog(http, admin_headers)
    created = http.post("/api/v1/campaigns", headers=admin_headers, json=_campaign_body(
        catalog_id, [first, second], data_cutoff_date="2025-11-20",
        reminders_minutes_before_lock=[60, 2880], unranked_unit_codes=[second]))
    assert created.status_code == 201, created.text
    got = http.get(f"/api/v1/campaigns/{created.json()['id']}", headers=admin_headers).json()
    assert got["data_cutoff_date"] == "2025-11-20"
    assert got["reminders_minutes_before_lock"] == [2880, 60]
    assert got["unranked_unit_codes"] == [second]

    plain = http.post("/api/v1/campaigns", headers=admin_headers,
                      json=_campaign_body(catalog_id, [first]))
    assert plain.status_code == 201, plain.text
    got = http.get(f"/api/v1/campaigns/{plain.json()['id']}", headers=admin_headers).json()
    assert got["reminders_minutes_before_lock"] == [4320, 1440, 120]
    assert (got["data_cutoff_date"], got["unranked_unit_codes"]) == (None, [])

    for bad in ({"unranked_unit_codes": ["NOT-IN-IT"]},
                {"reminders_minutes_before_lock": [0]},
                {"reminders_minutes_before_lock": [60, 60]},
                {"data_cutoff_date": "20/11/2025"}):
        refused = http.post("/api/v1/campaigns", headers=admin_headers,
                            json=_campaign_body(catalog_id, [first], **bad))
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_precheck_names_what_the_council_will_refuse(
    http, admin_headers, unit, make_user, ca
) -> None:
    code = unit()
    catalog_id = _catalog(http, admin_headers)
    created = http.post("/api/v1/campaigns", headers=admin_headers, json=_campaign_body(
        catalog_id, [code], data_cutoff_date="2025-11-20"))
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    aid = http.get(f"/api/v1/campaigns/{cid}", headers=admin_headers).json()["units"][0][
        "assessment_id"]
    _, leader = make_user("unit_leader", unit_code=code)
    _, stranger = make_user("unit_leader", unit_code=unit())
    _, viewer = make_user("viewer")

    # 1.1: unsigned, letter-suffixed, dated after the cut-off, an explanation citing nothing.
    assert put(http, aid, "1.1", {"option": "Đúng thời hạn",
                                  "explanation": "Đã ban hành đúng hạn"}, leader).status_code == 200
    bad = _upload(http, aid, "1.1", leader, plain_pdf("Ke hoach 30a"), "30a/KH-UBND",
                  doc_date="2025-11-25")
    assert bad.status_code == 201, bad.text
    # 1.2: signed by a trusted signer, cited by number and section: nothing to say.
    assert put(http, aid, "1.2", {"done": 3, "planned": 4,
                                  "explanation": "Theo Báo cáo 25/BC-UBND, mục III"},
               leader).status_code == 200
    good = _upload(http, aid, "1.2", leader, sign(plain_pdf("Bao cao 25"), ca.signer()),
                   "25/BC-UBND", title="Báo cáo CCHC năm 2025", section="Mục III")
    assert good.status_code == 201, good.text

    response = http.get(f"/api/v1/assessments/{aid}/precheck", headers=leader)
    assert response.status_code == 200, response.text
    found = response.json()
    by_code: dict[str, set[str]] = {}
    for item in found:
        by_code.setdefault(item["code"], set()).add(item["problem"])
        assert item["detail"] and " / " in item["detail"]
    assert by_code["1.1"] == {"signature_absent", "doc_number_letter_suffix",
                              "doc_date_after_cutoff", "explanation_no_citation"}
    assert {i["predicted_score"] for i in found if i["code"] == "1.1"} == {"0"}
    assert "1.2" not in by_code
    # 2.1 and 2.2 need no evidence and were not scored yet: no refusal to predict.
    assert not {"2.1", "2.2"} & set(by_code)

    # Fixed, the refusals go: a signed plan cited by number and section.
    assert http.delete(f"/api/v1/assessments/{aid}/entries/1.1/evidence/{bad.json()['id']}",
                       headers=leader).status_code in (200, 204)
    fixed = _upload(http, aid, "1.1", leader, sign(plain_pdf("Ke hoach 12"), ca.signer()),
                    "12/KH-UBND")
    assert fixed.status_code == 201, fixed.text
    assert put(http, aid, "1.1", {"explanation": "Kế hoạch 12/KH-UBND, mục II"},
               leader).status_code == 200
    again = http.get(f"/api/v1/assessments/{aid}/precheck", headers=leader).json()
    assert again == []

    # Missing required evidence is said too.
    assert http.delete(f"/api/v1/assessments/{aid}/entries/1.1/evidence/{fixed.json()['id']}",
                       headers=leader).status_code in (200, 204)
    missing = http.get(f"/api/v1/assessments/{aid}/precheck", headers=leader).json()
    assert {(i["code"], i["problem"], i["predicted_score"]) for i in missing} >= {
        ("1.1", "evidence_missing", "0")}

    assert http.get(f"/api/v1/assessments/{aid}/precheck", headers=stranger).status_code == 403
    assert http.get(f"/api/v1/assessments/{aid}/precheck", headers=viewer).status_code == 403
    assert http.get(f"/api/v1/assessments/{aid}/precheck",
                    headers=admin_headers).status_code == 200



def _assessment(http: httpx.Client, admin: dict[str, str], code: str,
                catalog: dict[str, Any] = SMALL, **extra: Any) -> int:
    created = http.post("/api/v1/campaigns", headers=admin,
                        json=_campaign_body(_catalog(http, admin, catalog), [code], **extra))
    assert created.status_code == 201, created.text
    got = http.get(f"/api/v1/campaigns/{created.json()['id']}", headers=admin).json()
    return got["units"][0]["assessment_id"]


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] and body["detail"]
    return body


def test_score_inputs_are_taken_as_typed_or_refused_with_a_reason(
    http, admin_headers, unit, make_user
) -> None:
    code = unit()
    aid = _assessment(http, admin_headers, code)
    _, leader = make_user("unit_leader", unit_code=code)

    # Options: a score exactly one option gives names that option (Chậm = 1).
    by_score = put(http, aid, "1.1", {"self_score": 1}, leader)
    assert by_score.status_code == 200, by_score.text
    assert by_score.json()["self_score"] == "1"
    wrong = _problem(put(http, aid, "1.1", {"self_score": "1.5"}, leader), 422)
    assert (wrong["code"], wrong["reason"]) == ("score_rejected", "not_an_option_score")
    assert "Không mức nào" in wrong["detail"]

    # Ratio: done may not exceed planned, and planned must be above 0.
    over = _problem(put(http, aid, "1.2", {"done": 5, "planned": 4}, leader), 422)
    assert (over["code"], over["reason"]) == ("score_rejected", "done_above_planned")
    zero = _problem(put(http, aid, "1.2", {"done": 0, "planned": 0}, leader), 422)
    assert zero["reason"] == "planned_zero"
    assert put(http, aid, "1.2", {"done": 3, "planned": 4}, leader).json()["self_score"] == "2.25"

    # Huge exponents are bad input, not an overflow.
    for field, criterion in (("self_score", "2.1"), ("self_score", "1.1"), ("done", "1.2"),
                             ("count", "2.2")):
        for value in ("1e9999999", "1e-9999999", "NaN", "Infinity"):
            body = {field: value, **({"planned": 4} if field == "done" else {})}
            refused = _problem(put(http, aid, criterion, body, leader), 422)
            assert refused["code"] == "invalid_input", (criterion, value, refused)

    # Nothing refused changed the entries.
    entries = {e["code"]: e for e in http.get(f"/api/v1/assessments/{aid}",
                                              headers=leader).json()["entries"]}
    assert (entries["1.1"]["self_score"], entries["1.2"]["self_score"]) == ("1", "2.25")
    assert entries["2.1"]["self_score"] is None and entries["2.2"]["self_score"] is None


def test_ids_beyond_any_integer_are_a_4xx_everywhere(http, admin_headers, make_user) -> None:
    huge = "99999999999999999999"
    _, leader = make_user("unit_leader", unit_code="K-ANY")
    for method, path in (
        ("GET", f"/api/v1/evidence/{huge}"),
        ("GET", f"/api/v1/catalogs/{huge}"),
        ("GET", f"/api/v1/catalogs/{huge}.xlsx"),
        ("POST", f"/api/v1/catalogs/{huge}/clone"),
        ("PUT", f"/api/v1/catalogs/{huge}"),
        ("GET", f"/api/v1/campaigns/{huge}"),
        ("GET", f"/api/v1/campaigns/{huge}/progress"),
        ("GET", f"/api/v1/assessments/{huge}"),
        ("GET", f"/api/v1/assessments/{huge}/precheck"),
        ("PUT", f"/api/v1/assessments/{huge}/entries/1.1"),
        ("DELETE", f"/api/v1/assessments/{huge}/entries/1.1/evidence/{huge}"),
        ("GET", "/api/v1/catalogs/2147483648"),
        ("GET", "/api/v1/evidence/0"),
    ):
        unit_route = "/entries/" in path
        response = http.request(method, path, headers=leader if unit_route else admin_headers,
                                json={"year": 2026} if method != "GET" else None)
        body = _problem(response, 422)
        assert body["code"] == "invalid_input", (method, path, body)
    assert _problem(http.get("/api/v1/evidence/2147483647", headers=admin_headers),
                    404)["code"] == "not_found"


INHERITING = {
    "name": "Bộ tiêu chí viết theo cách thường dùng 2025", "year": 2025, "unit_type": "commune",
    "bands": [{"min": 0, "label": "Yếu"}],
    "nodes": [{"code": "1", "title": "Cải cách thủ tục hành chính", "max": 3,
               "appraised_by": "VPUB", "evidence": "required", "not_applicable_allowed": True,
               "children": [
                   {"code": "1.1", "title": "Công khai thủ tục", "max": 1,
                    "rule": {"kind": "range", "step": 0.5}},
                   {"code": "1.2", "title": "Giải quyết đúng hạn", "max": 2,
                    "rule": {"kind": "ratio"}, "appraised_by": "SNV", "evidence": "optional",
                    "not_applicable_allowed": False}]}],
}


def test_a_parent_names_department_and_evidence_once_for_its_criteria(
    http, admin_headers, unit, make_user
) -> None:
    created = http.post("/api/v1/catalogs", headers=admin_headers, json=INHERITING)
    assert created.status_code == 201, created.text
    tree = http.get(f"/api/v1/catalogs/{created.json()['id']}", headers=admin_headers).json()
    field = tree["nodes"][0]
    assert (field["appraised_by"], field["evidence"]) == ("VPUB", "required")
    leaves = {c["code"]: c for c in field["children"]}
    assert (leaves["1.1"]["appraised_by"], leaves["1.1"]["evidence"],
            leaves["1.1"]["not_applicable_allowed"]) == ("VPUB", "required", True)
    assert (leaves["1.2"]["appraised_by"], leaves["1.2"]["evidence"],
            leaves["1.2"]["not_applicable_allowed"]) == ("SNV", "optional", False)
    # A rule still belongs to what is scored.
    wrong = {**INHERITING, "nodes": [{**INHERITING["nodes"][0], "rule": {"kind": "ratio"}}]}
    refused = _problem(http.post("/api/v1/catalogs", headers=admin_headers, json=wrong), 422)
    assert "rule_on_parent" in {p["code"] for p in refused["problems"]}

    # A campaign over it applies the resolved values: 1.1 needs evidence, may be N/A.
    code = unit()
    aid = _assessment(http, admin_headers, code, catalog=INHERITING)
    _, leader = make_user("unit_leader", unit_code=code)
    assert put(http, aid, "1.1", {"self_score": "0.5", "explanation": "Mục 1"},
               leader).status_code == 200
    missing = http.post(f"/api/v1/assessments/{aid}/entries/1.1/complete", headers=leader)
    assert _problem(missing, 422)["code"] == "evidence_missing"
    assert put(http, aid, "1.1", {"not_applicable": True}, leader).status_code == 200
    refused_na = put(http, aid, "1.2", {"not_applicable": True}, leader)
    assert _problem(refused_na, 422)["code"] == "not_applicable_not_allowed"


def test_the_same_bytes_under_another_number_keep_their_own_metadata_and_checks(
    http, admin_headers, unit, make_user, ca, system
) -> None:
    code = unit()
    aid = _assessment(http, admin_headers, code)
    _, leader = make_user("unit_leader", unit_code=code)
    content = sign(plain_pdf("Ke hoach CCHC 2025"), ca.signer())
    first = _upload(http, aid, "1.1", leader, content, "25/KH-UBND")
    assert first.status_code == 201, first.text
    second = _upload(http, aid, "1.1", leader, content, "30a/KH-UBND", doc_date="2025-04-01",
                     title="Kế hoạch bổ sung", section="Mục III")
    assert second.status_code == 201, second.text
    one, two = first.json(), second.json()
    sha256 = one["checks"]["sha256"]
    assert one["id"] != two["id"] and two["checks"]["sha256"] == sha256
    assert (two["doc_number"], two["doc_date"], two["title"], two["section"]) == (
        "30a/KH-UBND", "2025-04-01", "Kế hoạch bổ sung", "Mục III")
    assert [f["code"] for f in two["checks"]["flags"]] == ["doc_number_letter_suffix"]
    assert one["checks"]["flags"] == [] and one["doc_number"] == "25/KH-UBND"
    assert two["canonical_name"] == "1.1_so 30aKH-UBND_KH bo sung"
    # The very same description again is a re-send of the first: no third attachment.
    again = _upload(http, aid, "1.1", leader, content, "25/KH-UBND")
    assert again.status_code == 201 and again.json()["id"] == one["id"]
    entry = next(e for e in http.get(f"/api/v1/assessments/{aid}", headers=leader)
                 .json()["entries"] if e["code"] == "1.1")
    assert sorted(e["id"] for e in entry["evidence"]) == sorted([one["id"], two["id"]])
    # Stored once; the bytes go with the last attachment that uses them.
    stored = system.log_dir / "data" / "evidence" / "sha256"
    assert [p.name for p in stored.rglob(sha256 + "*")] != []
    delete = f"/api/v1/assessments/{aid}/entries/1.1/evidence/"
    assert http.delete(delete + str(two["id"]), headers=leader).status_code == 204
    assert http.get(f"/api/v1/evidence/{one['id']}", headers=leader).content == content
    assert http.delete(delete + str(one["id"]), headers=leader).status_code == 204
    assert list(stored.rglob(sha256 + "*")) == []


def _summaries_in_store(system: System) -> list[str]:
    folder = system.log_dir / "data" / "evidence" / "signed-summaries"
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_only_the_signed_summary_of_this_assessment_is_accepted(
    http, admin_headers, unit, make_user, signed_summary, system
) -> None:
    mine, other = unit(), unit()
    aid = _assessment(http, admin_headers, mine)
    other_aid = _assessment(http, admin_headers, other)
    _, leader = make_user("unit_leader", unit_code=mine)
    _, other_leader = make_user("unit_leader", unit_code=other)
    _finish(http, aid, mine, leader)
    form = {"proposed_classification": "Tốt"}
    before = _summaries_in_store(system)

    def send(content: bytes) -> httpx.Response:
        return http.post(f"/api/v1/assessments/{aid}/submit", headers=leader, data=form,
                         files={"signed_summary": ("ky.pdf", content, "application/pdf")})

    generated = http.get(f"/api/v1/assessments/{aid}/summary.pdf", headers=leader).content
    good = signed_summary(aid, leader)[1]
    untrusted_ca = CA("CA lạ không có trong danh sách tin cậy")
    # One byte changed inside the signed range.
    tampered = good.replace(b"ReportLab Generated", b"ReportLab Generatex", 1)
    refusals = [
        ("signed_summary_unsigned", generated),
        ("signed_summary_not_generated", sign(plain_pdf("Cong van khac"), CA().signer())),
        ("signed_summary_other_assessment", signed_summary(other_aid, other_leader)[1]),
        ("signed_summary_signature_broken", tampered),
        ("signed_summary_signature_broken", update_after_signing(good)),
    ]
    for code, content in refusals:
        refused = _problem(send(content), 422)
        assert refused["code"] == code, (code, refused)
        assert " / " in refused["detail"]
        # No stored object is left behind by a refusal.
        assert _summaries_in_store(system) == before, code
    assert http.get(f"/api/v1/assessments/{aid}", headers=leader).json()["status"] == "draft"

    # An untrusted signer is reported, not refused.
    sent = send(signed_summary(aid, leader, signer=untrusted_ca)[1])
    assert sent.status_code == 200, sent.text
    signature = sent.json()["signed_summary"]["signature"]
    assert signature["state"] == "untrusted" and "Chủ tịch UBND xã" in signature["signer"]
    assert len(_summaries_in_store(system)) == len(before) + 1
    # The very file accepted is kept even when a later sending of it is refused (423).
    again = send(signed_summary(aid, leader, signer=untrusted_ca)[1])
    assert again.status_code in (422, 423)
    assert len(_summaries_in_store(system)) == len(before) + 1
