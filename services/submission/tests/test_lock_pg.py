"""The lock on PostgreSQL: the database's clock, judged inside the COMMIT itself."""

import time
from collections.abc import Iterator
from datetime import timedelta

import eventlet
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.common.contracts import WINDOW_OPENED
from services.common.db import make_engine, prepare
from services.common.errors import DomainError
from services.common.outbox import outbox
from services.conftest import migrated_session
from services.submission import persistence
from services.submission.models import Change, Entry
from services.submission.service import Service
from services.submission.tests.conftest import ADMIN, LEADER, STAFF, make_service


@pytest.fixture
def pg_session(pg_url: str) -> Iterator[Session]:
    yield from migrated_session("submission", pg_url)


@pytest.fixture
def pg_service(pg_session: Session, criteria) -> Service:
    return make_service(pg_session, criteria)


def _window(session: Session, opens: float, locks: float) -> dict[str, str]:
    now = session.scalar(text("SELECT clock_timestamp()"))
    session.rollback()
    return {"opens_at": (now + timedelta(seconds=opens)).isoformat(),
            "locks_at": (now + timedelta(seconds=locks)).isoformat()}


def _campaign(service: Service, criteria, session: Session, locks: float) -> int:
    from services.submission.tests.conftest import SET

    catalog_id = criteria.create_catalog(SET)["id"]
    cid = service.create_campaign(
        {"name": "Đợt thử", "year": 2025, "catalog_id": catalog_id, "unit_codes": ["X1"],
         "windows": {"self_assessment": _window(session, -3600, locks)}}, ADMIN)["id"]
    return service.get_campaign(cid)["units"][0]["assessment_id"]


def test_a_write_that_passes_the_instant_before_commit_is_rolled_back(
    pg_service, pg_session, criteria, monkeypatch
):
    aid = _campaign(pg_service, criteria, pg_session, locks=1.0)
    pg_service.save_entry(aid, "2.1", {"self_score": "1"}, LEADER)
    real_write = persistence.write_entry

    def slow_write(*args):
        time.sleep(1.5)  # the instant passes while this write is under way
        return real_write(*args)

    monkeypatch.setattr(persistence, "write_entry", slow_write)
    with pytest.raises(DomainError) as err:
        pg_service.save_entry(aid, "2.1", {"self_score": "2"}, LEADER)
    assert (err.value.code, err.value.status) == ("window_locked", 423)
    entry = pg_session.scalars(select(Entry).where(Entry.code == "2.1")).one()
    assert (entry.score, entry.version) == (1, 2)
    assert len(pg_session.scalars(select(Change)).all()) == 1
    # Saves publish no event; the refused one left none behind either.
    assert pg_session.execute(select(outbox).where(
        outbox.c.event_type != WINDOW_OPENED)).all() == []


def test_a_commit_that_starts_after_the_instant_never_commits(
    pg_service, pg_session, criteria, pg_url
):
    """Every check passes before the instant; COMMIT itself is sent 1.5 s later.

    The commit-time trigger refuses it (0 s of lateness accepted), and the lock's
    announcement waited for the writer's share lock instead of announcing under it.
    """
    aid = _campaign(pg_service, criteria, pg_session, locks=1.0)
    late = {"commits": 0}

    def slow_commit(session) -> None:
        late["commits"] += 1
        time.sleep(1.5)  # the instant passes between the last statement and COMMIT

    event.listen(pg_session, "before_commit", slow_commit)
    try:
        writer = eventlet.spawn(pg_service.save_entry, aid, "2.1", {"self_score": "1"}, LEADER)
        eventlet.sleep(1.1)  # past the instant, the write still open
        for other in migrated_session("submission", pg_url):
            announcer = make_service(other, criteria)
            started = time.monotonic()
            announcer.announce_locks()
            waited = time.monotonic() - started
            with pytest.raises(DomainError) as err:
                writer.wait()
            assert (err.value.code, err.value.status) == ("window_locked", 423)
            assert late["commits"] == 1
            rows = other.execute(select(outbox.c.event_type).where(
                outbox.c.event_type != WINDOW_OPENED).order_by(outbox.c.id)).all()
            assert [r.event_type for r in rows] == ["window_locked"]
            entry = other.scalars(select(Entry).where(Entry.code == "2.1")).one()
            assert (entry.score, entry.version) == (None, 1)
            assert other.scalars(select(Change)).all() == []
            assert waited > 0.2
    finally:
        event.remove(pg_session, "before_commit", slow_commit)


def test_a_write_armed_for_no_window_is_not_refused_after_it(pg_service, pg_session, criteria):
    """Admin writes (returning criteria) are not window-bound: the trigger lets them by."""
    aid = _campaign(pg_service, criteria, pg_session, locks=1.0)
    time.sleep(1.1)
    pg_session.execute(text("UPDATE entries SET explanation = 'admin' WHERE code = '2.1'"))
    pg_session.commit()
    assert pg_session.scalar(text("SELECT explanation FROM entries WHERE code = '2.1'")) == \
        "admin"
    assert aid


def test_the_whole_flow_runs_on_postgresql(pg_service, pg_session, criteria):
    aid = _campaign(pg_service, criteria, pg_session, locks=3600)
    pg_service.assign(aid, {"2": "can.bo"}, LEADER)
    pg_service.save_entry(aid, "2.1", {"self_score": "0.75", "explanation": "x"}, STAFF,
                          idempotency_key="a")
    again = pg_service.save_entry(aid, "2.1", {"self_score": "0.75", "explanation": "x"}, STAFF,
                                  idempotency_key="a")
    assert again["version"] == 3
    assert pg_service.complete_entry(aid, "2.1", STAFF)["status"] == "complete"
    progress = pg_service.progress(pg_service.get_assessment_by_id(aid, ADMIN)["campaign_id"])
    assert (progress[0]["done"], progress[0]["total"]) == (1, 4)
    assert pg_service.get_assessment_by_id(aid, LEADER)["total"] == "0.75"


def test_two_racing_requests_with_one_key_apply_once(pg_service, pg_session, criteria, pg_url):
    aid = _campaign(pg_service, criteria, pg_session, locks=3600)
    for other in migrated_session("submission", pg_url):
        twin = make_service(other, criteria)
        body = {"self_score": "1.5", "explanation": "gửi hai lần"}
        first = eventlet.spawn(pg_service.save_entry, aid, "2.1", body, LEADER,
                               idempotency_key="same")
        second = eventlet.spawn(twin.save_entry, aid, "2.1", body, LEADER,
                                idempotency_key="same")
        answers = [first.wait(), second.wait()]
        assert answers[0] == answers[1] and answers[0]["version"] == 2
        entry = other.scalars(select(Entry).where(Entry.code == "2.1")).one()
        assert entry.version == 2
        assert len(other.scalars(select(Change)).all()) == 1


@pytest.fixture
def statements(pg_session: Session) -> Iterator[list[str]]:
    sent: list[str] = []
    engine = pg_session.get_bind()

    def count(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement.split()[0].upper() + " " + statement[:90].replace("\n", " "))

    def commit(conn) -> None:
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine, "commit", commit)
    yield sent
    event.remove(engine, "before_cursor_execute", count)
    event.remove(engine, "commit", commit)


def test_a_save_costs_few_round_trips(pg_service: Service, pg_session, criteria, statements):
    aid = _campaign(pg_service, criteria, pg_session, locks=3600)
    pg_service.save_entry(aid, "2.1", {"self_score": "1"}, LEADER)  # warms the caches
    pg_service.criteria.reset_mock()
    statements.clear()
    saved = pg_service.save_entry(aid, "2.1", {"self_score": "1.5", "explanation": "x"},
                                  LEADER, if_match='"2"', idempotency_key="k")
    assert saved["version"] == 3
    assert saved["totals"] == {"total": "1.5", "max": "10", "index": "15.00",
                               "classification": "Yếu"}
    # Was 15 statements and 2 criteria calls (score and totals) before they were counted;
    # the last clock read before COMMIT went into the COMMIT itself (the trigger).
    assert [s.split()[0] for s in statements] == [
        "SELECT",  # the idempotency key's earlier answer
        "SELECT",  # assessment and entry, unlocked: the cheap refusals
        "SELECT",  # assessment and window FOR SHARE, entry FOR UPDATE; then, outside
                   # the locking subquery, clock_timestamp(): open now? (arms the check)
        "WITH",    # the entry, its history row and the totals: one statement
        "INSERT",  # the idempotency key's answer (no outbox event: history is the record)
        "COMMIT",  # refused by the trigger if the instant has passed meanwhile
    ], "\n".join(statements)
    assert [c[0] for c in pg_service.criteria.method_calls] == ["score_entry"]

    statements.clear()
    again = pg_service.save_entry(aid, "2.1", {"self_score": "1.5", "explanation": "y"},
                                  LEADER)
    assert again["version"] == 4
    # The same inputs again: the score is known, so no unlocked read and no call.
    assert [s.split()[0] for s in statements] == [
        "SELECT", "WITH", "COMMIT",
    ], "\n".join(statements)
    assert [c[0] for c in pg_service.criteria.method_calls] == ["score_entry"]


def test_the_clock_a_save_reads_is_read_after_its_row_locks(
    pg_service, pg_session, criteria, pg_url
):
    """The clock comes in the same round trip as the locks, yet after them: a save that
    waited for a row lock past the instant is refused by that read (not only at COMMIT),
    and the time it records is never older than the write it waited for."""
    aid = _campaign(pg_service, criteria, pg_session, locks=3600)
    pg_service.save_entry(aid, "2.1", {"self_score": "1"}, LEADER)  # the cached path next
    for other in migrated_session("submission", pg_url):
        other.execute(text("SELECT 1 FROM entries WHERE code = '2.1' FOR UPDATE"))
        writer = eventlet.spawn(pg_service.save_entry, aid, "2.1",
                                {"self_score": "1.5", "explanation": "sau khóa"}, LEADER)
        eventlet.sleep(0.8)
        released = other.scalar(text("SELECT clock_timestamp()"))
        other.commit()
        writer.wait()
        at = pg_session.scalars(select(Change.at).where(Change.code == "2.1")
                                .order_by(Change.id.desc())).first()
        assert at >= released, (at, released)

    aid = _campaign(pg_service, criteria, pg_session, locks=1.0)
    pg_service.save_entry(aid, "2.1", {"self_score": "1"}, LEADER)
    for other in migrated_session("submission", pg_url):
        other.execute(text("SELECT 1 FROM entries WHERE code = '2.1' AND assessment_id = :a "
                           "FOR UPDATE"), {"a": aid})
        writer = eventlet.spawn(pg_service.save_entry, aid, "2.1", {"self_score": "2"}, LEADER)
        eventlet.sleep(1.3)  # the instant passes while the save waits for the row
        other.commit()
        with pytest.raises(DomainError) as err:
            writer.wait()
        assert (err.value.code, err.value.status) == ("window_locked", 423)


def test_a_save_runs_its_two_statements_prepared(pg_service, pg_session, criteria, pg_url):
    """The service prepares the save's statements (Database(prepared=...)): the text
    SQLAlchemy compiles at run time must be the one prepared, or they go as text."""
    aid = _campaign(pg_service, criteria, pg_session, locks=3600)
    pg_service.save_entry(aid, "2.1", {"self_score": "1.5"}, LEADER)  # the cached path next
    assert Service.db.prepared is persistence.PREPARED
    engine = make_engine(pg_url)
    prepare(engine, persistence.PREPARED)
    sent: list[str] = []
    event.listen(engine, "after_cursor_execute",
                 lambda _c, _cur, statement, *_: sent.append(statement.split("(")[0]))
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        saved = make_service(session, criteria).save_entry(
            aid, "2.1", {"self_score": "1.5", "explanation": "đã chuẩn bị"}, LEADER)
    finally:
        session.close()
        engine.dispose()
    assert sent == ["EXECUTE cchc_save_locked_rows", "EXECUTE cchc_save_write"], sent
    assert (saved["version"], saved["totals"]["total"]) == (3, "1.5")
    history = pg_session.scalars(select(Change).order_by(Change.id)).all()
    assert [(c.after["score"], c.after["explanation"]) for c in history[-1:]] == [
        ("1.5", "đã chuẩn bị")]


def test_other_writes_to_an_entry_take_its_rows_in_one_round_trip(
        pg_service, pg_session, criteria, statements):
    """Completing, attaching, the evidence service's check: the save's locked read (rows,
    locks, clock and the commit check armed at once) instead of four statements."""
    aid = _campaign(pg_service, criteria, pg_session, locks=3600)
    pg_service.save_entry(aid, "2.1", {"self_score": "1", "explanation": "đủ"}, LEADER)
    statements.clear()
    assert pg_service.check_writable(aid, "2.1", LEADER)["year"] == 2025
    assert [s.split()[0] for s in statements] == ["SELECT", "COMMIT"], "\n".join(statements)
    statements.clear()
    pg_service.attach_evidence(aid, "2.1", {"id": "9", "name": "a.pdf"}, LEADER)
    assert [s.split()[0] for s in statements] == ["SELECT", "WITH", "COMMIT"], \
        "\n".join(statements)
    with pytest.raises(DomainError) as err:  # what is missing is still named
        pg_service.check_writable(aid, "9.9", LEADER)
    assert (err.value.code, err.value.status) == ("not_found", 404)
