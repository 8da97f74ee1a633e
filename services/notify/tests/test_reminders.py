"""Reminders before a lock: at their instants to the second, once, never after the lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import eventlet
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify import scheduled
from services.notify.config import NotifySettings
from services.notify.domain import due_reminders
from services.notify.models import Notification, ReminderClaim
from services.notify.tests.conftest import list_users, make_service

LOCK = datetime(2025, 10, 5, 10, 0, tzinfo=UTC)  # 17:00 in Vietnam
OPENS = datetime(2025, 9, 14, 1, 0, tzinfo=UTC)
PENDING = [{"assessment_id": 11, "unit_code": "X1", "unit_name": "UBND xã Hương Vinh",
            "status": "draft", "incomplete": [
                {"code": "1.1", "title": "Ban hành kế hoạch", "assignee": "can.bo1"},
                {"code": "2.1", "title": "Kiểm tra CCHC", "assignee": None}]}]


def test_instants_are_lock_minus_minutes_and_nothing_after_the_lock() -> None:
    mins = [4320, 1440, 120]
    at = LOCK - timedelta(minutes=4320)
    assert due_reminders(1, OPENS, LOCK, mins, set(), at - timedelta(seconds=1)) == []
    [first] = due_reminders(1, OPENS, LOCK, mins, set(), at)
    assert (first.minutes, first.instant, first.send) == (4320, at, True)
    assert due_reminders(1, OPENS, LOCK, mins, {4320}, at + timedelta(hours=1)) == []
    two_hours = LOCK - timedelta(hours=2)
    assert [d.minutes for d in due_reminders(1, OPENS, LOCK, mins, {4320, 1440},
                                             two_hours)] == [120]
    assert due_reminders(1, OPENS, LOCK, mins, set(), LOCK) == []
    assert due_reminders(1, OPENS, LOCK, mins, set(), LOCK + timedelta(days=1)) == []


def test_missed_instants_send_only_the_latest() -> None:
    due = due_reminders(1, OPENS, LOCK, [4320, 1440, 120], set(), LOCK - timedelta(minutes=90))
    assert [(d.minutes, d.send) for d in due] == [(4320, False), (1440, False), (120, True)]


def test_instants_before_the_window_opens_are_skipped() -> None:
    opens = LOCK - timedelta(days=2)
    due = due_reminders(1, opens, LOCK, [4320, 1440], set(), LOCK - timedelta(days=1))
    assert [(d.minutes, d.send) for d in due] == [(1440, True)]


def test_an_instant_at_the_opening_itself_is_no_reminder() -> None:
    opens = LOCK - timedelta(minutes=120)
    assert due_reminders(1, opens, LOCK, [120], set(), opens + timedelta(minutes=5)) == []


def test_a_late_reminder_says_what_is_really_left() -> None:
    from services.notify.domain import minutes_left, remaining

    assert remaining(minutes_left(LOCK, LOCK - timedelta(minutes=120, seconds=-1))) == "2 giờ"
    assert remaining(minutes_left(LOCK, LOCK - timedelta(minutes=90))) == "1 giờ 30 phút"
    assert remaining(minutes_left(LOCK, LOCK - timedelta(days=3))) == "3 ngày"


def _watch(session: Session, window_id: int = 5, minutes: list[int] | None = None) -> None:
    scheduled.watch(session, {
        "campaign_id": 7, "campaign_name": "Đánh giá CCHC 2025", "year": 2025,
        "window_id": window_id, "kind": "self_assessment", "opens_at": OPENS.isoformat(),
        "locks_at": LOCK.isoformat(), "unit_codes": ["X1"],
        "reminders_minutes_before_lock": minutes or [1440, 120]})
    session.commit()


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _service(session: Session):
    service = make_service(session)
    service.submission.pending_units.return_value = PENDING
    return service


def test_a_reminder_goes_at_its_instant_to_leader_and_assignees(
        session: Session, cfg: NotifySettings) -> None:
    _watch(session)
    service = _service(session)
    clock = Clock(LOCK - timedelta(minutes=1440, seconds=1))
    assert scheduled.send_reminders(session, service.submission, service.identity, cfg,
                                    clock) == 0
    clock.at += timedelta(seconds=1)
    assert scheduled.send_reminders(session, service.submission, service.identity, cfg,
                                    clock) == 2
    service.submission.pending_units.assert_called_with(7, "self_assessment")
    leader = session.scalar(select(Notification).where(Notification.username == "lanh.dao"))
    assert leader.created_at == LOCK - timedelta(minutes=1440)
    assert "khóa lúc 05/10/2025 17:00" in leader.title
    assert "còn 1 ngày" in leader.body and "1.1: Ban hành kế hoạch (can.bo1)" in leader.body
    assert "2.1: Kiểm tra CCHC" in leader.body
    staff = session.scalar(select(Notification).where(Notification.username == "can.bo1"))
    assert "1.1" in staff.body and "2.1" not in staff.body
    # The next seconds send nothing more; the 2-hour one comes at its own instant.
    clock.at += timedelta(seconds=30)
    assert scheduled.send_reminders(session, service.submission, service.identity, cfg,
                                    clock) == 0
    clock.at = LOCK - timedelta(minutes=120)
    assert scheduled.send_reminders(session, service.submission, service.identity, cfg,
                                    clock) == 2
    clock.at = LOCK
    service.submission.pending_units.reset_mock()
    assert scheduled.send_reminders(session, service.submission, service.identity, cfg,
                                    clock) == 0
    service.submission.pending_units.assert_not_called()


def test_units_that_sent_get_nothing(session: Session, cfg: NotifySettings) -> None:
    _watch(session)
    service = _service(session)
    service.submission.pending_units.return_value = []
    assert scheduled.send_reminders(session, service.submission, service.identity, cfg,
                                    Clock(LOCK - timedelta(minutes=120))) == 0
    assert session.scalars(select(Notification)).all() == []
    # claimed all the same: the instant is done
    assert {c.minutes for c in session.scalars(select(ReminderClaim))} == {1440, 120}


def test_the_lock_arriving_during_the_question_sends_nothing(
        session: Session, cfg: NotifySettings) -> None:
    _watch(session)
    service = _service(session)
    clock = Clock(LOCK - timedelta(minutes=120))

    def slow(*args: object) -> list:
        clock.at = LOCK  # submission answered as the window locked
        return PENDING

    service.submission.pending_units.side_effect = slow
    assert scheduled.send_reminders(session, service.submission, service.identity, cfg,
                                    clock) == 0
    assert session.scalars(select(Notification)).all() == []


def test_several_replicas_send_each_reminder_once(pg_url: str, cfg: NotifySettings) -> None:
    from services.conftest import migrated_session

    sessions = [migrated_session("notify", pg_url) for _ in range(3)]
    opened = [next(s) for s in sessions]
    _watch(opened[0], window_id=9)
    clock = Clock(LOCK - timedelta(minutes=120))
    written = []

    def replica(session: Session) -> None:
        service = _service(session)

        def slow(*args: object) -> list:
            eventlet.sleep(0.05)  # all three ask submission at the same instant
            return PENDING

        service.submission.pending_units.side_effect = slow
        written.append(scheduled.send_reminders(session, service.submission,
                                                service.identity, cfg, clock))

    pool = eventlet.GreenPool()
    for s in opened:
        pool.spawn(replica, s)
    pool.waitall()
    assert sorted(written) == [0, 0, 2]
    rows = opened[0].scalars(select(Notification)).all()
    assert sorted(n.username for n in rows) == ["can.bo1", "lanh.dao"]
    for gen in sessions:
        with pytest.raises(StopIteration):
            next(gen)


def test_identity_lookup_is_one_call_for_all_leaders() -> None:
    from services.notify import fanout

    calls = []

    class Identity:
        def list_users(self, **kw: object) -> list:
            calls.append(kw)
            return list_users(**kw)  # type: ignore[arg-type]

    notices = fanout.reminder({"campaign_name": "x", "kind": "self_assessment",
                               "locks_at": LOCK, "window_id": 1}, 120,
                              [{**PENDING[0], "incomplete": []}], Identity())
    assert [n.person.username for n in notices] == ["lanh.dao"]
    assert calls == [{"role": "unit_leader"}]
