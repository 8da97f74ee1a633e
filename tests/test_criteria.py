"""Criteria sets over HTTP: upload in three forms, every problem at once, versions."""

from pathlib import Path

import httpx
import yaml

DATA = Path(__file__).resolve().parent.parent / "data" / "catalogs"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
META = ("id", "in_use", "version", "derived_from")

SET_YAML = """
name: Bộ tiêu chí CCHC cấp xã thử nghiệm 2023
year: 2023
unit_type: commune
bands: [{min: 90, label: Xuất sắc}, {min: 80, label: Tốt}, {min: 65, label: Khá},
        {min: 50, label: Trung bình}, {min: 0, label: Yếu}]
nodes:
  - code: "1"
    title: Công tác chỉ đạo, điều hành CCHC
    max: 6
    children:
      - code: "1.1"
        title: Ban hành kế hoạch CCHC năm
        max: 2
        rule: {kind: options, options: [{label: Đúng thời hạn, score: 2},
                                        {label: Chậm, score: 1}, {label: Không ban hành, score: 0}]}
        evidence: required
        appraised_by: SNV
      - code: "1.2"
        title: Tỷ lệ hoàn thành kế hoạch
        max: 2
        rule: {kind: ratio}
      - code: "1.3"
        title: Kiểm tra công tác CCHC
        max: 2
        rule: {kind: range, step: 0.25}
"""


def tree(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in META}


def test_json_to_service_to_xlsx_to_service_keeps_the_tree(
    http: httpx.Client, admin_headers: dict
) -> None:
    data = yaml.safe_load((DATA / "department-2024.yaml").read_text(encoding="utf-8"))
    created = http.post("/api/v1/catalogs", json=data, headers=admin_headers)
    assert created.status_code == 201, created.text
    first = http.get(f"/api/v1/catalogs/{created.json()['id']}", headers=admin_headers).json()
    exported = http.get(f"/api/v1/catalogs/{created.json()['id']}.xlsx", headers=admin_headers)
    assert exported.headers["content-type"] == XLSX
    again = http.post("/api/v1/catalogs", content=exported.content,
                      headers={**admin_headers, "Content-Type": XLSX})
    assert again.status_code == 201, again.text
    second = http.get(f"/api/v1/catalogs/{again.json()['id']}", headers=admin_headers).json()
    assert tree(second) == tree(first)
    by_form = http.post("/api/v1/catalogs", headers=admin_headers,
                        files={"file": ("bo-tieu-chi.xlsx", exported.content, XLSX)})
    assert by_form.status_code == 201, by_form.text


def test_yaml_body_is_accepted(http: httpx.Client, admin_headers: dict) -> None:
    created = http.post("/api/v1/catalogs", content=SET_YAML.encode(),
                        headers={**admin_headers, "Content-Type": "application/yaml"})
    assert created.status_code == 201, created.text
    body = http.get(f"/api/v1/catalogs/{created.json()['id']}", headers=admin_headers).json()
    assert body["nodes"][0]["children"][2]["rule"] == {"kind": "range", "step": "0.25"}


def test_every_problem_is_reported_in_one_response(
    http: httpx.Client, admin_headers: dict
) -> None:
    data = yaml.safe_load(SET_YAML)
    children = data["nodes"][0]["children"]
    children.append(dict(children[0]))                                   # duplicate code
    children[1]["title"] = ""                                            # missing title
    children[2]["rule"] = {"kind": "lottery"}                            # unknown rule
    children[0]["rule"]["options"][0]["score"] = 5                      # option above max
    children[0]["evidence"] = "maybe"                                    # unknown evidence
    data["nodes"].append({"code": "2", "title": "Cải cách thể chế", "max": 1, "children": [
        {"code": "3.1", "title": "Văn bản QPPL", "max": 1, "rule": {"kind": "ratio"}}]})
    before = http.get("/api/v1/catalogs", headers=admin_headers).json()
    response = http.post("/api/v1/catalogs", json=data, headers=admin_headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    codes = {p["code"] for p in response.json()["problems"]}
    assert {"duplicate_code", "missing_title", "unknown_rule", "option_above_max",
            "unknown_evidence", "code_not_under_parent", "children_sum_mismatch"} <= codes
    assert http.get("/api/v1/catalogs", headers=admin_headers).json() == before


def test_bad_bodies_get_clear_errors(http: httpx.Client, admin_headers: dict) -> None:
    broken = http.post("/api/v1/catalogs", content=b"name: [unclosed",
                       headers={**admin_headers, "Content-Type": "application/yaml"})
    assert broken.status_code == 422 and broken.json()["code"] == "unreadable_body"
    garbage = http.post("/api/v1/catalogs", content=b"PK\x03\x04garbage",
                        headers={**admin_headers, "Content-Type": XLSX})
    assert garbage.status_code == 422 and garbage.json()["code"] == "catalog_invalid"
    not_object = http.post("/api/v1/catalogs", json=[1, 2], headers=admin_headers)
    assert not_object.status_code == 422
    assert http.get("/api/v1/catalogs/999999", headers=admin_headers).status_code == 404


def test_clone_to_a_new_year(http: httpx.Client, admin_headers: dict) -> None:
    cid = http.post("/api/v1/catalogs", content=SET_YAML.encode(),
                    headers={**admin_headers, "Content-Type": "application/yaml"}).json()["id"]
    clone = http.post(f"/api/v1/catalogs/{cid}/clone", json={"year": 2024},
                      headers=admin_headers)
    assert clone.status_code == 201
    body = http.get(f"/api/v1/catalogs/{clone.json()['id']}", headers=admin_headers).json()
    assert body["year"] == 2024 and body["name"].endswith("2024")


def test_only_admins_upload(http: httpx.Client, make_user) -> None:
    _, staff = make_user(["unit_staff"], unit_code="X-HUONGVINH")
    refused = http.post("/api/v1/catalogs", content=SET_YAML.encode(),
                        headers={**staff, "Content-Type": "application/yaml"})
    assert refused.status_code == 403
    assert http.get("/api/v1/catalogs", headers=staff).status_code == 200


def test_a_set_a_campaign_uses_changes_only_as_a_new_version(
    http: httpx.Client, admin_headers: dict
) -> None:
    headers = {**admin_headers, "Content-Type": "application/yaml"}
    cid = http.post("/api/v1/catalogs", content=SET_YAML.encode(), headers=headers).json()["id"]
    unit = "X-HUONGHO"
    assert http.post("/api/v1/units", headers=admin_headers, json=[
        {"code": unit, "name": "Phường Hương Hồ", "type": "commune"}]).status_code == 200
    edited = SET_YAML.replace("Kiểm tra công tác CCHC", "Kiểm tra, giám sát công tác CCHC")
    before_use = http.put(f"/api/v1/catalogs/{cid}", content=edited.encode(), headers=headers)
    assert before_use.json() == {"id": cid, "version": 1, "new_version": False}
    campaign = http.post("/api/v1/campaigns", headers=admin_headers, json={
        "name": "Đánh giá CCHC cấp xã 2023", "year": 2023, "catalog_id": cid,
        "unit_codes": [unit], "windows": {"self_assessment": {
            "opens_at": "2023-09-14T08:00:00+07:00", "locks_at": "2023-10-05T17:00:00+07:00"}}})
    assert campaign.status_code == 201, campaign.text
    assert http.get(f"/api/v1/catalogs/{cid}", headers=admin_headers).json()["in_use"] is True
    after_use = http.put(f"/api/v1/catalogs/{cid}", content=SET_YAML.encode(), headers=headers)
    assert after_use.status_code == 200
    assert after_use.json()["new_version"] is True and after_use.json()["version"] == 2
    kept = http.get(f"/api/v1/catalogs/{cid}", headers=admin_headers).json()
    assert kept["nodes"][0]["children"][2]["title"] == "Kiểm tra, giám sát công tác CCHC"
    new = http.get(f"/api/v1/catalogs/{after_use.json()['id']}", headers=admin_headers).json()
    assert new["derived_from"] == cid and new["in_use"] is False
