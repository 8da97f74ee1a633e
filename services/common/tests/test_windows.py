"""The shared window lock and idempotent writes, on PostgreSQL (races) and SQLite."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import eventlet
import pytest
from sqlalchemy import Integer, String, event, select, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from services.common import idempotency, windows
from services.common.db import make_engine
from services.common.errors import DomainError
from services.common.types import UtcDateTime


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "rows_in_window"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note: Mapped[str] = mapped_column(String(100))


class _WindowRow(_Base):
    """A service's own table of windows, as open_window takes it."""

    __tablename__ = "windows_of_campaign"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    opens_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locks_at: Mapped[datetime] = mapped_column(UtcDateTime)


class _Answer(idempotency.IdempotentResponseMixin, _Base):
    __tablename__ = "answers"


@dataclass
class _Window:
    kind: str
    opens_at: datetime
    locks_at: datetime


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest,
             sqlite_url: str) -> Iterator[Callable[[], Session]]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    _Base.metadata.create_all(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            for statement in windows.commit_lock_ddl(("rows_in_window",)):
                conn.execute(text(statement))
    factory = sessionmaker(engine, expire_on_commit=False)
    opened: list[Session] = []

    def open_session() -> Session:
        opened.append(factory())
        return opened[-1]

    yield open_session
    for session in opened:
        session.close()
    engine.dispose()


def _window(session: Session, locks_in: float) -> _Window:
    now = windows.server_now(session)
    session.rollback()
    return _Window("self_assessment", now - timedelta(hours=1), now + timedelta(seconds=locks_in))


def _write(session: Session, window: _Window, row_id: int, key: str | None = None,
           pause: float = 0.0) -> dict[str, Any]:
    def work() -> tuple[dict[str, Any], _Window]:
        windows.check_open(session, window)
        session.add(_Row(id=row_id, note=f"row {row_id}"))
        eventlet.sleep(pause)
        return {"id": row_id}, window

    return idempotency.run(session, _Answer, "can.bo", key, f"write {row_id}", work)


def test_a_write_before_the_instant_commits_one_after_it_is_refused(sessions) -> None:
    session = sessions()
    window = _window(session, locks_in=1.0)
    assert _write(session, window, 1) == {"id": 1}
    time.sleep(1.05)
    with pytest.raises(DomainError) as err:
        _write(session, window, 2)
    assert (err.value.code, err.value.status) == ("window_locked", 423)
    assert [r.id for r in session.scalars(select(_Row))] == [1]


def test_a_commit_sent_after_the_instant_is_refused_with_no_lateness(sessions) -> None:
    """All statements run before the instant; only the COMMIT comes after it."""
    session = sessions()
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite (one writer) decides by the last statement before COMMIT")
    window = _window(session, locks_in=0.5)
    def late(_: Session) -> None:
        time.sleep(0.8)

    event.listen(session, "before_commit", late)
    with pytest.raises(DomainError) as err:
        _write(session, window, 3, key="k")
    assert err.value.code == "window_locked"
    event.remove(session, "before_commit", late)
    check = sessions()
    assert check.scalars(select(_Row)).all() == [] and check.scalars(select(_Answer)).all() == []


def test_two_racing_writes_with_one_key_apply_once(sessions) -> None:
    first, second = sessions(), sessions()
    if first.get_bind().dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no race to lose")
    window = _window(first, locks_in=60)
    one = eventlet.spawn(_write, first, window, 4, "same", 0.2)
    two = eventlet.spawn(_write, second, window, 4, "same", 0.2)
    assert one.wait() == two.wait() == {"id": 4}
    assert [r.id for r in sessions().scalars(select(_Row))] == [4]


def test_a_key_reused_for_another_write_is_refused(sessions) -> None:
    session = sessions()
    window = _window(session, locks_in=60)
    _write(session, window, 5, key="k5")
    with pytest.raises(DomainError) as err:
        _write(session, window, 6, key="k5")
    assert (err.value.code, err.value.status) == ("idempotency_key_reused", 422)


def test_open_window_takes_the_services_window_or_says_why_not(sessions) -> None:
    session = sessions()
    now = windows.server_now(session)
    session.add_all([
        _WindowRow(campaign_id=1, kind="self_assessment", opens_at=now - timedelta(hours=1),
                   locks_at=now + timedelta(hours=1)),
        _WindowRow(campaign_id=1, kind="appraisal", opens_at=now - timedelta(hours=2),
                   locks_at=now - timedelta(hours=1))])
    session.commit()
    window = windows.open_window(session, _WindowRow, 1, "self_assessment", "Chưa có")
    assert (window.campaign_id, window.kind) == (1, "self_assessment")
    session.rollback()
    with pytest.raises(DomainError) as locked:
        windows.open_window(session, _WindowRow, 1, "appraisal", "Chưa có")
    session.rollback()
    with pytest.raises(DomainError) as missing:
        windows.open_window(session, _WindowRow, 2, "self_assessment", "Chưa có thời hạn")
    session.rollback()
    assert (locked.value.code, locked.value.status) == ("window_locked", 423)
    assert (missing.value.code, missing.value.status, missing.value.detail,
            missing.value.extra) == (
        "window_not_open", 423, "Chưa có thời hạn / no window is set for this round",
        {"window": "self_assessment"})
