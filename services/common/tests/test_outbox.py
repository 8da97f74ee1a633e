from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.common.outbox import (
    backlog,
    claim_event,
    outbox,
    publish_pending,
    record_event,
)
from services.conftest import migrated_session


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request, sqlite_url) -> Iterator[Session]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    yield from migrated_session("notify", url)


def test_event_leaves_only_with_its_transaction(session: Session) -> None:
    with session.begin():
        record_event(session, "kept", {"n": 1})
    try:
        with session.begin():
            record_event(session, "rolled_back", {"n": 2})
            raise RuntimeError("the business write failed")
    except RuntimeError:
        pass
    sent: list[tuple[str, dict]] = []
    assert publish_pending(session, lambda t, p: sent.append((t, p))) == 1
    assert [t for t, _ in sent] == ["kept"]
    assert sent[0][1]["n"] == 1 and len(sent[0][1]["event_id"]) == 36


def test_failed_publish_keeps_the_event_for_the_next_relay(session: Session) -> None:
    with session.begin():
        record_event(session, "a", {})
        record_event(session, "b", {})

    def broker_down(event_type: str, payload: dict) -> None:
        raise ConnectionError("broker unreachable")

    with pytest.raises(ConnectionError):
        publish_pending(session, broker_down)
    sent: list[str] = []
    assert publish_pending(session, lambda t, p: sent.append(t)) == 2
    assert sent == ["a", "b"]
    assert publish_pending(session, lambda t, p: sent.append(t)) == 0
    with session.begin():
        unsent = session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
    assert unsent == 0


def test_claim_is_true_once_per_event_and_handler(session: Session) -> None:
    with session.begin():
        assert claim_event(session, "e1", "h") is True
        assert claim_event(session, "e1", "h") is False
        assert claim_event(session, "e1", "other") is True


def test_backlog_counts_unpublished_events_and_ages_the_oldest(session: Session) -> None:
    with session.begin():
        assert backlog(session) == (0, 0.0)
        record_event(session, "a", {})
        record_event(session, "b", {})
        session.execute(outbox.update().where(outbox.c.event_type == "a")
                        .values(created_at=datetime.now(UTC) - timedelta(minutes=5)))
    with session.begin():
        pending, oldest = backlog(session)
    assert pending == 2 and 299 < oldest < 330
    publish_pending(session, lambda t, p: None)
    with session.begin():
        assert backlog(session) == (0, 0.0)
