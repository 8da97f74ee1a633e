from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.common.errors import DomainError
from services.common.outbox import outbox
from services.submission.models import Entry, Window
from services.submission.service import Service
from services.submission.tests.conftest import (
    ADMIN,
    LEADER,
    LEAVES,
    OTHER,
    SET,
    STAFF,
    both_databases,
    window,
)

SUMMARY = {"signed_summary": {"ref": "var/uploads/ab.pdf", "filename": "bang-tong-hop.pdf",
                              "sha256": "a" * 64, "size": 1234},
           "proposed_classification": "Tốt"}


def events(session: Session, kind: str) -> list[dict]:
    rows = session.execute(select(outbox.c.payload).where(outbox.c.event_type == kind)).all()
    return [r.payload for r in rows]


def fail(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as err:
        call(*args, **kwargs)
    return err.value


def test_campaign_copies_the_set_and_keeps_windows_in_vietnam_time(service, campaign, session):
    c = campaign()
    got = service.get_campaign(c["id"])
    sa = got["windows"]["self_assessment"]
    assert sa["opens_at"].endswith("+07:00") and sa["is_open"] is True
    assert [u["unit_code"] for u in got["units"]] == ["X1", "X2"]
    assessment = service.get_assessment(c["id"], "X1", LEADER)
    assert [e["code"] for e in assessment["entries"]] == list(LEAVES)
    assert assessment["unit_name"] == "UBND xã Hương Vinh"
    assert (assessment["total"], assessment["max"]) == ("0", "10")
    service.criteria.use_catalog.assert_called_once_with(c["catalog_id"])
    stored = session.scalars(select(Window)).one()
    assert stored.locks_at.utcoffset() in (None, timedelta(0))  # UTC in the database


def test_unknown_units_and_naive_times_are_refused(service, criteria):
    catalog_id = criteria.create_catalog(SET)["id"]
    base = {"name": "Đợt", "year": 2025, "catalog_id": catalog_id,
            "windows": {"self_assessment": window(timedelta(0), timedelta(hours=1))}}
    assert fail(service.create_campaign, {**base, "unit_codes": ["NOPE"]}, ADMIN).code == \
        "unknown_units"
    naive = {"self_assessment": {"opens_at": "2025-09-14T08:00:00",
                                 "locks_at": "2025-10-05T17:00:00"}}
    err = fail(service.create_campaign, {**base, "unit_codes": ["X1"], "windows": naive}, ADMIN)
    assert err.code == "invalid_input"
    assert fail(service.create_campaign, {**base, "unit_codes": ["X1"]}, LEADER).status == 403


def test_assigning_a_field_assigns_its_leaves_and_staff_write_only_theirs(service, campaign):
    c = campaign()
    got = service.assign(c["X1"], {"1": "can.bo"}, LEADER)
    assert sorted(a["code"] for a in got["assigned"]) == ["1.1", "1.2"]
    saved = service.save_entry(c["X1"], "1.1", {"option": "Chậm", "explanation": "KH số 5"},
                               STAFF)
    assert saved["self_score"] == "1" and saved["version"] == 3  # assigning was 2
    assert fail(service.save_entry, c["X1"], "2.1", {"self_score": "1"}, STAFF).code == \
        "not_assigned"
    assert fail(service.save_entry, c["X2"], "1.1", {"option": 0}, STAFF).code == \
        "forbidden_unit"
    assert fail(service.assign, c["X1"], {"2": "can.bo"}, STAFF).code == "leader_only"
    assert fail(service.get_assessment_by_id, c["X1"], OTHER).status == 403
    # A deeper code wins over its field, whatever order they come in.
    service.assign(c["X1"], {"1.2": "lanh.dao", "1": None}, LEADER)
    entries = {e["code"]: e["assignee"] for e in service.get_assessment_by_id(
        c["X1"], ADMIN)["entries"]}
    assert entries == {"1.1": None, "1.2": "lanh.dao", "2.1": None, "2.2": None}
    assert fail(service.assign, c["X1"], {"9": "x"}, LEADER).code == "unknown_code"
    stranger = fail(service.assign, c["X1"], {"1.1": "khac"}, LEADER)
    assert (stranger.code, stranger.extra["usernames"]) == ("assignee_not_in_unit", ["khac"])


def test_scores_come_from_the_criteria_rules(service, campaign):
    c = campaign()
    err = fail(service.save_entry, c["X1"], "2.1", {"self_score": "1.1"}, LEADER)
    assert (err.code, err.status) == ("score_rejected", 422)
    err = fail(service.save_entry, c["X1"], "1.2", {"done": 1, "planned": 0}, LEADER)
    assert err.code == "score_rejected"
    got = service.save_entry(c["X1"], "1.2", {"done": 2, "planned": 3}, LEADER)
    assert got["self_score"] == "2" and got["totals"]["total"] == "2"
    assert (got["totals"]["max"], got["totals"]["index"]) == ("10", "20.00")
    err = fail(service.save_entry, c["X1"], "1.2", {"bogus": 1}, LEADER)
    assert err.code == "invalid_input"
    assert fail(service.save_entry, c["X1"], "1", {"self_score": 1}, LEADER).status == 404


@both_databases
def test_not_applicable_leaves_total_and_maximum(service, campaign):
    c = campaign()
    service.save_entry(c["X1"], "1.1", {"option": "Đúng thời hạn"}, LEADER)
    service.save_entry(c["X1"], "2.1", {"self_score": "1.75"}, LEADER)
    got = service.save_entry(c["X1"], "2.1", {"not_applicable": True}, LEADER)
    assert (got["totals"]["total"], got["totals"]["max"]) == ("2", "8")
    result = service.get_assessment_by_id(c["X1"], LEADER)
    assert (result["total"], result["max"], result["index"]) == ("2", "8", "25.00")
    err = fail(service.save_entry, c["X1"], "2.2", {"not_applicable": True}, LEADER)
    assert err.code == "not_applicable_not_allowed"


@both_databases
def test_totals_match_the_criteria_services_compute_result(service, campaign, criteria,
                                                           session):
    """The totals are added up here; the criteria service must give the same answer."""
    c = campaign()
    steps = [("1.1", {"option": "Chậm"}), ("2.1", {"self_score": "1.75"}),
             ("1.2", {"done": 1, "planned": 3}), ("2.2", {"count": 1}),
             ("2.1", {"not_applicable": True}), ("1.1", {"option": "Đúng thời hạn"}),
             ("1.2", {"done": 3, "planned": 3}), ("2.2", {"count": 0}),
             ("2.1", {"not_applicable": False, "self_score": "2"})]
    for code, body in steps:
        saved = service.save_entry(c["X1"], code, body, LEADER)["totals"]
        entries = session.scalars(select(Entry).where(Entry.assessment_id == c["X1"])).all()
        expected = criteria.compute_result(
            c["catalog_id"],
            {e.code: None if e.score is None else str(e.score) for e in entries},
            [e.code for e in entries if e.not_applicable])
        assert saved == expected, (code, body)
        got = service.get_assessment_by_id(c["X1"], LEADER)
        assert {k: got[k] for k in expected} == expected
    assert saved["classification"] == "Xuất sắc" and saved["index"] == "100.00"


def test_a_score_already_known_skips_the_call_but_no_check(service, campaign, session):
    c = campaign()
    service.save_entry(c["X1"], "2.1", {"self_score": "1"}, LEADER)
    service.save_entry(c["X1"], "2.2", {"count": 1}, LEADER)
    service.criteria.score_entry.reset_mock()
    assert fail(service.save_entry, c["X1"], "2.1", {"self_score": "1"}, STAFF).status == 403
    assert fail(service.save_entry, c["X1"], "2.1", {"self_score": "1"}, OTHER).status == 403
    err = fail(service.save_entry, c["X1"], "2.2", {"count": 1, "not_applicable": True}, LEADER)
    assert err.code == "not_applicable_not_allowed"
    assert fail(service.save_entry, c["X1"], "2.1", {"self_score": "1"}, LEADER,
                if_match='"1"').status == 409
    again = service.save_entry(c["X1"], "2.2", {"count": 1}, LEADER)
    assert (again["self_score"], again["version"]) == ("2.5", 3)
    service.assign(c["X1"], {"2.1": "can.bo"}, LEADER)
    assert service.save_entry(c["X1"], "2.1", {"self_score": "1"}, STAFF)["version"] == 4
    assert service.criteria.score_entry.call_count == 0
    session.execute(update(Window).values(locks_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()
    assert fail(service.save_entry, c["X1"], "2.1", {"self_score": "1"}, STAFF).status == 423
    assert service.criteria.score_entry.call_count == 0


def test_stale_version_is_409(service, campaign):
    c = campaign()
    first = service.save_entry(c["X1"], "2.1", {"self_score": "1"}, LEADER, if_match="1")
    err = fail(service.save_entry, c["X1"], "2.1", {"self_score": "2"}, LEADER, if_match="1")
    assert (err.code, err.status, err.extra["current_version"]) == ("stale_version", 409, 2)
    again = service.save_entry(c["X1"], "2.1", {"self_score": "2"}, LEADER,
                               if_match=f'W/"{first["version"]}"')
    assert again["version"] == 3


def test_idempotency_key_replays_the_first_answer(service, campaign, session):
    c = campaign()
    first = service.save_entry(c["X1"], "2.1", {"self_score": "1"}, LEADER,
                               idempotency_key="k-1")
    second = service.save_entry(c["X1"], "2.1", {"self_score": "1"}, LEADER,
                                idempotency_key="k-1")
    assert first == second and first["version"] == 2
    assert session.scalars(select(Entry.version).where(Entry.code == "2.1",
                                                       Entry.assessment_id == c["X1"])).one() == 2
    assert len(service.history(c["X1"], LEADER)) == 1
    err = fail(service.save_entry, c["X1"], "2.1", {"self_score": "2"}, LEADER,
               idempotency_key="k-1")
    assert err.code == "idempotency_key_reused"


def test_completion_needs_explanation_and_required_evidence(service, campaign):
    c = campaign()
    err = fail(service.complete_entry, c["X1"], "1.1", LEADER)
    assert err.extra["reasons"] == ["score_missing", "explanation_missing", "evidence_missing"]
    service.save_entry(c["X1"], "1.1", {"option": 0, "explanation": "  "}, LEADER)
    assert fail(service.complete_entry, c["X1"], "1.1", LEADER).code == "explanation_missing"
    service.save_entry(c["X1"], "1.1", {"explanation": "Mục II KH 12/KH-UBND"}, LEADER)
    err = fail(service.complete_entry, c["X1"], "1.1", LEADER)
    assert (err.code, err.status) == ("evidence_missing", 422)
    attached = service.attach_evidence(
        c["X1"], "1.1", {"id": "ev-1", "name": "1.1_12KH-UBND_KH.pdf", "sha256": "b" * 64,
                         "checks": {"type": "pdf", "signatures": []}}, LEADER)
    assert attached["evidence"] == [{"id": "ev-1", "name": "1.1_12KH-UBND_KH.pdf",
                                     "sha256": "b" * 64,
                                     "checks": {"type": "pdf", "signatures": []}}]
    done = service.complete_entry(c["X1"], "1.1", LEADER)
    assert done["status"] == "complete"
    # Taking the only required evidence away undoes completion.
    assert service.detach_evidence(c["X1"], "1.1", "ev-1", LEADER)["status"] == "draft"
    # Not applicable: explanation only.
    service.save_entry(c["X1"], "2.1", {"not_applicable": True, "explanation": "Không phát sinh"},
                       LEADER)
    assert service.complete_entry(c["X1"], "2.1", LEADER)["status"] == "complete"


def _complete_all(service: Service, aid: int) -> None:
    inputs = {"1.1": {"option": "Đúng thời hạn"}, "1.2": {"done": 3, "planned": 3},
              "2.1": {"self_score": "1.5"}, "2.2": {"count": 1}}
    for code, data in inputs.items():
        service.save_entry(aid, code, {**data, "explanation": f"Thuyết minh {code}"}, LEADER)
    service.attach_evidence(aid, "1.1", {"id": 7, "name": "1.1_KH.pdf"}, LEADER)
    for code in inputs:
        service.complete_entry(aid, code, LEADER)


def test_submit_is_for_the_leader_once_complete_and_then_nothing_changes(
    service, campaign, session
):
    c = campaign()
    err = fail(service.submit, c["X1"], SUMMARY, LEADER)
    assert err.code == "assessment_incomplete" and err.extra["incomplete"] == list(LEAVES)
    _complete_all(service, c["X1"])
    assert fail(service.submit, c["X1"], SUMMARY, STAFF).code == "leader_only"
    bad = {**SUMMARY, "proposed_classification": "Siêu"}
    assert fail(service.submit, c["X1"], bad, LEADER).code == "unknown_classification"
    sent = service.submit(c["X1"], SUMMARY, LEADER)
    assert sent["status"] == "submitted" and sent["total"] == "9" and sent["max"] == "10"
    assert sent["index"] == "90.00" and sent["classification"] == "Xuất sắc"
    err = fail(service.save_entry, c["X1"], "2.1", {"self_score": "2"}, LEADER)
    assert (err.code, err.status) == ("assessment_submitted", 423)
    assert fail(service.attach_evidence, c["X1"], "1.1", {"id": 8, "name": "x.pdf"},
                LEADER).status == 423
    [event] = events(session, "assessment_submitted")
    assert event["unit_code"] == "X1" and event["proposed_classification"] == "Tốt"


def test_a_returned_round_opens_only_the_returned_criteria(service, campaign):
    c = campaign(self_assessment=window(-timedelta(hours=2), timedelta(hours=1)),
                 supplement=window(-timedelta(minutes=5), timedelta(hours=2)))
    _complete_all(service, c["X1"])
    service.submit(c["X1"], SUMMARY, LEADER)
    assert fail(service.return_entries, c["X1"], ["2.1"], LEADER).status == 403
    service.return_entries(c["X1"], ["2.1"], ADMIN)
    assert fail(service.save_entry, c["X1"], "1.2", {"done": 1, "planned": 3},
                LEADER).code == "not_returned"
    service.save_entry(c["X1"], "2.1", {"self_score": "2", "explanation": "Bổ sung"}, LEADER)
    service.complete_entry(c["X1"], "2.1", LEADER)
    assert service.submit(c["X1"], SUMMARY, LEADER)["total"] == "9.5"


def test_a_locked_window_refuses_every_write_with_423(service, campaign, session):
    c = campaign(self_assessment=window(-timedelta(hours=2), -timedelta(seconds=1)))
    err = fail(service.save_entry, c["X1"], "2.1", {"self_score": "1"}, LEADER)
    assert (err.code, err.status) == ("window_locked", 423)
    assert "Đã hết thời hạn" in err.detail and "locked" in err.detail
    for call, args in ((service.assign, (c["X1"], {"1": "can.bo"}, LEADER)),
                       (service.complete_entry, (c["X1"], "2.1", LEADER)),
                       (service.attach_evidence, (c["X1"], "1.1", {"id": 1, "name": "a"},
                                                  LEADER)),
                       (service.submit, (c["X1"], SUMMARY, LEADER))):
        assert fail(call, *args).status == 423
    assert session.scalars(select(Entry.version).where(Entry.version > 1)).all() == []
    later = campaign(self_assessment=window(timedelta(hours=1), timedelta(hours=2)))
    assert fail(service.save_entry, later["X1"], "2.1", {"self_score": "1"},
                LEADER).code == "window_not_open"


def test_window_locked_is_announced_once(service, campaign, session):
    campaign(self_assessment=window(-timedelta(hours=2), -timedelta(seconds=1)))
    campaign()
    service.announce_locks()
    service.announce_locks()
    [event] = events(session, "window_locked")
    assert event["kind"] == "self_assessment" and event["locks_at"].endswith("+07:00")


def test_history_keeps_who_when_before_and_after(service, campaign):
    c = campaign()
    service.save_entry(c["X1"], "2.1", {"self_score": "1"}, LEADER)
    service.save_entry(c["X1"], "2.1", {"self_score": "1.25", "explanation": "Sửa"}, LEADER)
    rows = service.history(c["X1"], ADMIN)
    assert [r["action"] for r in rows] == ["save", "save"]
    assert rows[1]["before"]["score"] == "1" and rows[1]["after"]["score"] == "1.25"
    assert rows[1]["actor"] == "lanh.dao" and rows[1]["at"].endswith("+07:00")


def test_summary_lists_every_node_with_totals(service, campaign):
    c = campaign()
    service.save_entry(c["X1"], "2.2", {"count": 2, "explanation": "Chậm 2 báo cáo"}, LEADER)
    data = service.summary(c["X1"], LEADER)
    assert [r["code"] for r in data["rows"]] == ["1", "1.1", "1.2", "2", "2.1", "2.2"]
    assert [r["score"] for r in data["rows"] if not r["is_leaf"]] == ["0", "2"]
    row = data["rows"][-1]
    assert (row["score"], row["explanation"]) == ("2", "Chậm 2 báo cáo")
    assert (data["total"], data["max"]) == ("2", "10")
    assert Decimal(data["index"]) == Decimal("20.00")


def test_a_domain_error_from_criteria_arrives_as_itself() -> None:
    from nameko.exceptions import deserialize, serialize

    sent = DomainError("score_rejected", "Điểm không hợp lệ / bad score", 422, {"reason": "x"})
    got = deserialize(serialize(sent))
    assert isinstance(got, DomainError)
    assert (got.code, got.status, got.extra) == ("score_rejected", 422, {"reason": "x"})


def test_ids_out_of_range_are_not_found(service) -> None:
    for bad in (2**40, 0, -1, "7", True):
        assert fail(service.get_assessment_by_id, bad, ADMIN).status == 404
        assert fail(service.get_campaign, bad).status == 404


def test_withdraw_takes_a_sending_back_only_until_the_lock(service, campaign, session):
    c = campaign()
    _complete_all(service, c["X1"])
    assert fail(service.withdraw, c["X1"], LEADER).code == "not_submitted"
    service.submit(c["X1"], SUMMARY, LEADER)
    assert fail(service.withdraw, c["X1"], STAFF).code == "leader_only"
    back = service.withdraw(c["X1"], LEADER)
    assert back["status"] == "draft" and back["signed_summary"] is None
    service.save_entry(c["X1"], "2.1", {"self_score": "1.5"}, LEADER)
    [event] = events(session, "assessment_withdrawn")
    assert event["withdrawn_by"] == "lanh.dao"
    service.complete_entry(c["X1"], "2.1", LEADER)
    service.submit(c["X1"], SUMMARY, LEADER)
    # The instant passes: the sending stands as it is.
    session.execute(update(Window).values(locks_at=datetime.now(UTC) - timedelta(seconds=1)))
    session.commit()
    err = fail(service.withdraw, c["X1"], LEADER)
    assert (err.code, err.status) == ("window_locked", 423)
    assert service.get_assessment_by_id(c["X1"], LEADER)["status"] == "submitted"
