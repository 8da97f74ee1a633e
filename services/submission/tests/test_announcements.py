"""What submission tells notify: windows opened, criteria assigned, who has not sent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.common.contracts import ENTRIES_ASSIGNED, WINDOW_OPENED
from services.common.outbox import outbox
from services.submission.tests.conftest import ADMIN, LEADER, window


def events(session, kind: str) -> list[dict]:
    rows = session.execute(select(outbox.c.payload).where(outbox.c.event_type == kind)
                           .order_by(outbox.c.id)).all()
    return [r.payload for r in rows]


def test_every_window_is_announced_once_with_its_reminders(service, campaign, session):
    c = campaign()
    [first] = events(session, WINDOW_OPENED)
    assert first["campaign_id"] == c["id"] and first["kind"] == "self_assessment"
    assert first["campaign_name"] == "Đánh giá CCHC 2025" and first["year"] == 2025
    assert first["unit_codes"] == ["X1", "X2"] and first["event_id"]
    assert first["locks_at"].endswith("+07:00") and isinstance(first["window_id"], int)
    assert first["reminders_minutes_before_lock"] == [4320, 1440, 120]
    service.add_window(c["id"], {"kind": "supplement", **window(timedelta(hours=2),
                                                                 timedelta(hours=3))}, ADMIN)
    later = events(session, WINDOW_OPENED)[1]
    assert later["kind"] == "supplement" and later["unit_codes"] == ["X1", "X2"]
    assert later["window_id"] != first["window_id"]


def test_an_assignment_is_announced_with_titles_and_only_what_changed(service, campaign,
                                                                       session):
    c = campaign()
    service.assign(c["X1"], {"1": "can.bo"}, LEADER)
    service.assign(c["X1"], {"1": "can.bo"}, LEADER)  # nothing changed: nothing said
    [said] = events(session, ENTRIES_ASSIGNED)
    assert said["assessment_id"] == c["X1"] and said["unit_code"] == "X1"
    assert said["actor"] == "lanh.dao" and said["campaign_id"] == c["id"]
    assert said["assignments"] == [
        {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "assignee": "can.bo"},
        {"code": "1.2", "title": "Tỷ lệ hoàn thành kế hoạch", "assignee": "can.bo"}]


def test_pending_units_lists_incomplete_criteria_of_units_not_sent(service, campaign):
    c = campaign()
    service.assign(c["X1"], {"1.1": "can.bo"}, LEADER)
    service.save_entry(c["X1"], "2.1", {"self_score": "1", "explanation": "Kế hoạch số 12"},
                       LEADER)
    service.complete_entry(c["X1"], "2.1", LEADER)
    pending = {u["unit_code"]: u for u in service.pending_units(c["id"])}
    assert set(pending) == {"X1", "X2"}
    x1 = pending["X1"]["incomplete"]
    assert [i["code"] for i in x1] == ["1.1", "1.2", "2.2"]
    assert x1[0] == {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "assignee": "can.bo"}
    assert service.pending_units(c["id"], "supplement") == []
