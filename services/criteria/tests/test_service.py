import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from nameko.testing.services import worker_factory

from services.common.errors import DomainError
from services.conftest import migrated_session
from services.criteria.service import Service

DATA = Path(__file__).resolve().parents[3] / "data" / "catalogs"

SMALL = {
    "name": "Bộ tiêu chí thử 2024", "year": 2024, "unit_type": "commune",
    "bands": [{"min": 90, "label": "Xuất sắc"}, {"min": 0, "label": "Yếu"}],
    "nodes": [{"code": "1", "title": "Chỉ đạo, điều hành", "max": 3, "children": [
        {"code": "1.1", "title": "Kế hoạch", "max": 1,
         "rule": {"kind": "options", "options": [{"label": "Đúng hạn", "score": 1},
                                                 {"label": "Chậm", "score": 0.5}]}},
        {"code": "1.2", "title": "Kiểm tra", "max": 2, "rule": {"kind": "range", "step": 0.25},
         "not_applicable_allowed": True},
    ]}],
}


@pytest.fixture
def service(sqlite_url) -> Iterator[Service]:
    for session in migrated_session("criteria", sqlite_url):
        yield worker_factory(Service, db=session)


def test_created_set_reads_back_whole(service: Service) -> None:
    cid = service.create_catalog(SMALL)["id"]
    tree = service.get_catalog(cid)
    assert tree["name"] == SMALL["name"] and tree["in_use"] is False
    assert [c["code"] for c in tree["nodes"][0]["children"]] == ["1.1", "1.2"]
    assert tree["nodes"][0]["children"][1]["max"] == "2"


def test_every_problem_is_listed_in_one_answer(service: Service) -> None:
    bad = yaml.safe_load(yaml.safe_dump(SMALL))
    bad["nodes"][0]["children"].append({"code": "2.3", "title": "", "max": 1,
                                        "rule": {"kind": "magic"}})
    bad["nodes"][0]["children"].append(dict(bad["nodes"][0]["children"][0]))
    with pytest.raises(DomainError) as err:
        service.create_catalog(bad)
    codes = {p["code"] for p in err.value.extra["problems"]}
    assert {"duplicate_code", "missing_title", "unknown_rule", "code_not_under_parent",
            "children_sum_mismatch"} <= codes
    assert err.value.status == 422
    assert service.list_catalogs() == []


def test_scores_go_through_the_rule(service: Service) -> None:
    cid = service.create_catalog(SMALL)["id"]
    assert service.score_entry(cid, "1.1", {"option": "Chậm"}) == {"score": "0.5"}
    assert service.score_entry(cid, "1.2", {"self_score": "1.75"}) == {"score": "1.75"}
    with pytest.raises(DomainError) as err:
        service.score_entry(cid, "1.2", {"self_score": "1.8"})
    assert err.value.code == "score_rejected"
    with pytest.raises(DomainError) as err:
        service.score_entry(cid, "9.9", {"self_score": "1"})
    assert err.value.status == 404


def test_result_leaves_not_applicable_out_of_both_sides(service: Service) -> None:
    cid = service.create_catalog(SMALL)["id"]
    assert service.compute_result(cid, {"1.1": "1", "1.2": "2"}, ["1.2"]) == {
        "total": "1", "max": "1", "index": "100.00", "classification": "Xuất sắc"}
    assert service.compute_result(cid, {"1.1": "0.5", "1.2": "0.5"}, []) == {
        "total": "1", "max": "3", "index": "33.33", "classification": "Yếu"}


def test_a_set_in_use_is_never_changed_in_place(service: Service) -> None:
    cid = service.create_catalog(SMALL)["id"]
    edited = {**SMALL, "name": "Bộ tiêu chí thử 2024 (sửa)"}
    assert service.update_catalog(cid, edited) == {"id": cid, "version": 1, "new_version": False}
    service.use_catalog(cid)
    again = service.update_catalog(cid, {**SMALL, "name": "Lần hai"})
    assert again["new_version"] is True and again["version"] == 2 and again["id"] != cid
    assert service.get_catalog(cid)["name"] == "Bộ tiêu chí thử 2024 (sửa)"
    assert service.get_catalog(again["id"])["derived_from"] == cid


def test_xlsx_round_trip_and_clone(service: Service) -> None:
    cid = service.create_catalog(SMALL)["id"]
    xlsx = service.export_xlsx(cid)["content_b64"]
    back = service.import_xlsx(xlsx)["id"]
    strip = ("id", "in_use", "version", "derived_from")
    first = {k: v for k, v in service.get_catalog(cid).items() if k not in strip}
    assert {k: v for k, v in service.get_catalog(back).items() if k not in strip} == first
    clone = service.get_catalog(service.clone_catalog(cid, 2025)["id"])
    assert clone["year"] == 2025 and clone["name"] == "Bộ tiêu chí thử 2025"


def test_garbage_xlsx_is_invalid_not_a_crash(service: Service) -> None:
    with pytest.raises(DomainError) as err:
        service.import_xlsx(base64.b64encode(b"PK\x03\x04 not a workbook").decode())
    assert err.value.code == "catalog_invalid"


@pytest.mark.parametrize("name", ["commune-2023.yaml", "department-2024.yaml"])
def test_shipped_sets_load(service: Service, name: str) -> None:
    cid = service.create_catalog(yaml.safe_load((DATA / name).read_text(encoding="utf-8")))["id"]
    assert service.compute_result(cid, {}, [])["max"] == "100"
