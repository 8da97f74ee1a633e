"""The council's work from the first score to the published ranking, in one process.

Real criteria, submission and appraisal workers; appraisal's database on SQLite and
on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.appraisal.models import Change
from services.appraisal.tests.conftest import (
    ADMIN,
    LEADER,
    LEADER2,
    SNV,
    STP,
    SUMMARY,
    send,
)
from services.common.errors import DomainError
from services.common.outbox import outbox


def fail(call, *args, **kwargs) -> DomainError:
    with pytest.raises(DomainError) as err:
        call(*args, **kwargs)
    return err.value


def events(appraisal, kind: str) -> list[dict]:
    rows = appraisal.db.execute(select(outbox.c.payload)
                                .where(outbox.c.event_type == kind)).all()
    return [r.payload for r in rows]


def both_sent(submission, campaign, deliver) -> dict:
    c = campaign()
    send(submission, c["X1"], LEADER, {"1.1": {"option": "Đúng thời hạn"},
                                       "1.2": {"self_score": "2.5"}, "2.1": {"count": 1}})
    send(submission, c["X2"], LEADER2, {"1.1": {"option": 0}, "1.2": {"self_score": "3"},
                                        "2.1": {"not_applicable": True}})
    assert deliver() >= 2
    return c


def test_the_queue_shows_only_the_departments_criteria_of_units_that_sent(
        appraisal, submission, campaign, deliver):
    c = both_sent(submission, campaign, deliver)
    snv = appraisal.queue(c["id"], SNV)
    assert [(q["unit_code"], q["code"]) for q in snv] == [
        ("X1", "1.1"), ("X1", "1.2"), ("X2", "1.1"), ("X2", "1.2")]
    assert snv[0]["self_score"] == "2" and snv[0]["status"] == "pending"
    assert [q["code"] for q in appraisal.queue(c["id"], STP, unit="X1")] == ["2.1"]
    assert appraisal.queue(c["id"], SNV, status="appraised") == []
    err = fail(appraisal.appraise, c["X1"], "2.1", {"round": 1, "score": 1}, SNV)
    assert (err.status, err.code) == (403, "other_department")
    assert fail(appraisal.queue, c["id"], SNV, status="nope").status == 422


def test_round_one_checks_the_rule_and_wants_a_reason_below_the_self_score(
        appraisal, submission, campaign, deliver):
    c = both_sent(submission, campaign, deliver)
    assert fail(appraisal.appraise, c["X1"], "1.1",
                {"round": 1, "score": "1.5", "reason": "x"}, SNV).code == "score_rejected"
    assert fail(appraisal.appraise, c["X1"], "1.2",
                {"round": 1, "score": "2.3", "reason": "x"}, SNV).code == "score_rejected"
    assert fail(appraisal.appraise, c["X1"], "1.1", {"round": 1, "score": 1},
                SNV).code == "reason_required"
    done = appraisal.appraise(c["X1"], "1.1", {"round": 1, "score": 1, "reason": "Ban hành chậm",
                                               "needs_supplement": True}, SNV)
    assert done["round1"]["score"] == "1" and done["status"] == "needs_supplement"
    [event] = events(appraisal, "criterion_appraised")
    assert event["code"] == "1.1" and event["needs_supplement"] is True
    [change] = appraisal.db.scalars(select(Change)).all()
    assert change.before["r1_score"] is None and change.after["r1_score"] == "1"
    err = fail(appraisal.appraise, c["X1"], "1.1", {"round": 2, "score": 2}, SNV)
    assert err.code == "not_returned"


def test_the_council_window_locks_at_its_instant(appraisal, submission, campaign, deliver):
    c = campaign(appraisal=(-timedelta(hours=2), -timedelta(seconds=1)))
    send(submission, c["X1"], LEADER, {"1.1": {"option": 0}, "1.2": {"self_score": "2.5"},
                                       "2.1": {"count": 1}})
    deliver()
    err = fail(appraisal.appraise, c["X1"], "1.2", {"round": 1, "score": "2.5"}, SNV)
    assert (err.status, err.code) == (423, "window_locked")
    assert appraisal.queue(c["id"], SNV)[1]["round1"]["score"] is None


def test_both_rounds_to_the_published_ranking(appraisal, submission, campaign, deliver):
    c = both_sent(submission, campaign, deliver)
    score = appraisal.appraise
    score(c["X1"], "1.1", {"round": 1, "score": 1, "reason": "Ban hành chậm",
                           "needs_supplement": True}, SNV)
    score(c["X1"], "1.2", {"round": 1, "score": "2.5"}, SNV)
    score(c["X1"], "2.1", {"round": 1, "score": "1.5"}, STP)
    score(c["X2"], "1.1", {"round": 1, "score": 2}, SNV)
    score(c["X2"], "1.2", {"round": 1, "score": "2.75", "reason": "Thiếu biên bản"}, SNV)
    assert fail(appraisal.return_criteria, c["X2"], ADMIN).code == "nothing_flagged"
    back = appraisal.return_criteria(c["X1"], ADMIN)
    assert back["items"] == [{"code": "1.1", "title": "Ban hành kế hoạch CCHC năm",
                              "reason": "Ban hành chậm"}]
    assert submission.get_assessment_by_id(c["X1"], LEADER)["status"] == "returned"
    # The unit sees the returned criterion red with the council's reason, nothing else.
    seen = appraisal.assessment_view(c["X1"], LEADER)
    assert [(e["code"], e["red"], e["reason"]) for e in seen["entries"]] == [
        ("1.1", True, "Ban hành chậm")]
    assert fail(appraisal.assessment_view, c["X1"], LEADER2).code == "forbidden_unit"
    # Round 2: only the returned criterion changes.
    assert fail(submission.supplement_entry, c["X1"], "1.2",
                {"explanation": "x", "proposed_score": 3}, LEADER).status == 423
    assert fail(submission.supplement_entry, c["X1"], "1.1",
                {"explanation": "Bổ sung", "proposed_score": 5}, LEADER).status == 422
    submission.supplement_entry(c["X1"], "1.1", {
        "explanation": "Bổ sung Quyết định số 12/QĐ-UBND, mục I", "proposed_score": "2"}, LEADER)
    submission.submit(c["X1"], SUMMARY, LEADER)
    deliver()
    [row] = appraisal.queue(c["id"], SNV, unit="X1", status="returned")
    assert row["round2"]["proposed_score"] == "2" and "12/QĐ-UBND" in row["round2"]["explanation"]
    score(c["X1"], "1.1", {"round": 2, "score": 2}, SNV)
    # Survey points, a capped bonus.
    assert fail(appraisal.finalize, c["X1"], ADMIN).code == "appraisal_incomplete"
    assert fail(appraisal.set_survey, c["id"], {"X1": {"1.2": 1}}, ADMIN).code == "not_survey"
    appraisal.set_survey(c["id"], {"X1": {"2.2": "2.5"}, "X2": {"2.2": 3}}, ADMIN)
    over = fail(appraisal.set_adjustments, c["X1"],
                [{"kind": "bonus", "points": 3, "reason": "Sáng kiến"}], ADMIN)
    assert over.code == "adjustment_over_cap"
    appraisal.set_adjustments(c["X1"], [{"kind": "bonus", "points": 1, "reason": "Sáng kiến"}],
                              ADMIN)
    assert fail(appraisal.results, c["id"], LEADER).code == "results_not_published"
    # X1: 2 (round 2) + 2.5 + 1.5 + 2.5 (survey) = 8.5, + 1 bonus = 9.5 of 10 -> 95.00
    x1 = appraisal.finalize(c["X1"], ADMIN)
    assert (x1["total"], x1["max"], x1["index"], x1["classification"]) == (
        "9.5", "10", "95", "Xuất sắc")
    assert fail(appraisal.publish, c["id"], ADMIN).code == "not_finalized"
    # X2: 2 + 2.75 + 3 (survey) = 7.75 of 8 (2.1 does not apply) -> 96.875 -> 96.88
    assert appraisal.finalize_campaign(c["id"], ADMIN)["finalized"] == 2
    appraisal.publish(c["id"], ADMIN)
    got = appraisal.results(c["id"], LEADER)["results"]
    assert [(r["unit_code"], r["total"], r["max"], r["index"], r["classification"], r["rank"])
            for r in got] == [("X2", "7.75", "8", "96.88", "Xuất sắc", 1),
                              ("X1", "9.5", "10", "95", "Xuất sắc", 2)]
    [published] = events(appraisal, "results_published")
    assert published["unit_codes"] == ["X1", "X2"]
    finals = events(appraisal, "assessment_finalized")
    assert len(finals) == 3  # X1 twice: alone, then with the whole campaign
    # The same payload whether PostgreSQL builds it (trim_scale) or Python does.
    assert {k: v for k, v in finals[-1].items() if k != "event_id"} == {
        "assessment_id": c["X2"], "campaign_id": c["id"], "unit_code": "X2", "total": "7.75",
        "max": "8", "index": "96.88", "classification": "Xuất sắc"}
    assert len({e["event_id"] for e in finals}) == 3
    table = appraisal.deductions(c["X1"], LEADER)
    assert [(r["code"], r["self_score"], r["round1_score"], r["proposed_score"],
             r["final_score"]) for r in table["rows"]] == [("1.1", "2", "1", "2", "2")]
    report = appraisal.criteria_report(c["id"], ADMIN)
    line = next(r for r in report["rows"] if r["code"] == "1.2")
    assert (line["mean"], line["min"], line["max_score"], line["full_score_units"]) == (
        "2.63", "2.5", "2.75", 0)
    [year] = appraisal.trend("X1", LEADER)["years"]
    assert year["index"] == "95" and [f["score"] for f in year["fields"]] == ["4.5", "4"]
    assert fail(appraisal.set_survey, c["id"], {"X1": {"2.2": 1}}, ADMIN).status == 409


def test_comments_between_council_and_unit(appraisal, submission, campaign, deliver):
    c = both_sent(submission, campaign, deliver)
    appraisal.add_comment(c["X1"], "1.1", {"text": "Đề nghị bổ sung kế hoạch"}, SNV)
    appraisal.add_comment(c["X1"], "1.1", {"text": "Đơn vị đã bổ sung"}, LEADER)
    assert [(m["side"], m["text"]) for m in appraisal.comments(c["X1"], "1.1", ADMIN)] == [
        ("council", "Đề nghị bổ sung kế hoạch"), ("unit", "Đơn vị đã bổ sung")]
    assert fail(appraisal.add_comment, c["X1"], "1.1", {"text": "x"}, STP).status == 403
    assert fail(appraisal.comments, c["X1"], "1.1", LEADER2).status == 403


def test_an_actor_the_gateway_did_not_sign_is_refused(appraisal, submission, campaign, deliver):
    c = both_sent(submission, campaign, deliver)
    forged = {"username": "admin", "roles": ["admin"], "unit_code": None}
    for call, args in ((appraisal.finalize, (c["X1"],)), (appraisal.queue, (c["id"],)),
                       (appraisal.set_survey, (c["id"], {})), (appraisal.publish, (c["id"],))):
        err = fail(call, *args, forged)
        assert (err.status, err.code) == (401, "actor_unverified")
    assert fail(appraisal.finalize, c["X1"], SNV).status == 403
