"""Any offset round-trips to the same instant, in the submission service's own tables.

Windows were stored as wall-clock text on SQLite and read back as UTC (a lock given at
17:00+07:00 fell at midnight). A property test over every offset the standard allows
(−23:59 … +23:59, to the minute), on the migrated schema of both backends.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.conftest import migrated_session
from services.submission.models import Campaign, Entry, Window

OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes)))
INSTANTS = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                        timezones=OFFSETS)


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Session]:
    url = sqlite_url if request.param == "sqlite" else request.getfixturevalue("pg_url")
    for session in migrated_session("submission", url):
        campaign = Campaign(name="Đợt thử", year=2026, catalog_id=1, bands=[],
                            created_by="admin", created_at=datetime.now(UTC))
        session.add(campaign)
        session.commit()
        session.info["campaign_id"] = campaign.id
        yield session


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(opens=INSTANTS, length=st.integers(min_value=1, max_value=10**7))
def test_a_window_comes_back_at_the_instant_it_was_given(
    session: Session, opens: datetime, length: int
) -> None:
    locks = (opens + timedelta(seconds=length)).astimezone(opens.tzinfo)
    campaign_id = session.info["campaign_id"]
    session.execute(delete(Window))
    session.add(Window(campaign_id=campaign_id, kind="self_assessment", opens_at=opens,
                       locks_at=locks))
    session.commit()
    session.expunge_all()
    stored = session.scalars(select(Window)).one()
    assert stored.opens_at == opens and stored.locks_at == locks
    assert stored.opens_at.utcoffset() == timedelta(0)
    # The database compares instants too: one second before the lock is before it.
    just_before = locks - timedelta(seconds=1)
    assert session.scalar(select(func.count()).select_from(Window)
                          .where(Window.locks_at > just_before)) == 1
    assert session.scalar(select(func.count()).select_from(Window)
                          .where(Window.locks_at > locks)) == 0
    session.rollback()


def test_scores_add_up_exactly_in_sql(session: Session) -> None:
    """Ten entries of 0.1 add up to 1 in SQL on SQLite as on PostgreSQL (no float)."""
    from services.submission.models import Assessment

    found = Assessment(campaign_id=session.info["campaign_id"], unit_code="X1",
                       unit_name="UBND xã thử", status="draft", round=1, version=1)
    session.add(found)
    session.flush()
    for i in range(10):
        session.add(Entry(assessment_id=found.id, code=f"1.{i}", inputs={},
                          score=Decimal("0.1"), max=Decimal("0.35")))
    session.commit()
    total, maximum = session.execute(
        select(func.sum(Entry.score), func.sum(Entry.max))).one()
    assert (total, maximum) == (Decimal("1"), Decimal("3.5"))
    assert isinstance(total, Decimal) and str(total) == "1.0000"


def test_sqlite_scores_stored_before_are_converted_exactly(sqlite_url: str) -> None:
    """Migration 0004 turns the float-backed NUMERIC of old SQLite files into scaled integers."""
    from alembic import command
    from sqlalchemy import text

    from services.common.db import make_engine
    from services.common.migrate import alembic_config, upgrade

    command.upgrade(alembic_config("submission", sqlite_url), "submission_0003")
    engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO campaigns (id, name, year, catalog_id, bands, created_by, created_at)"
            " VALUES (1, 'c', 2025, 1, '[]', 'admin', '2025-01-01 00:00:00.000000')"))
        conn.execute(text(
            "INSERT INTO assessments (id, campaign_id, unit_code, unit_name, status, round,"
            " version) VALUES (1, 1, 'X1', 'x', 'draft', 1, 1)"))
        for i, (score, maximum) in enumerate([(0.1, 0.25), (0.7, 1.75), (None, 2)]):
            conn.execute(text(
                "INSERT INTO entries (assessment_id, code, inputs, score, max, not_applicable,"
                " explanation, evidence, status, reopened, version) VALUES (1, :code, '{}',"
                " :score, :max, 0, '', '[]', 'draft', 0, 1)"),
                {"code": f"1.{i}", "score": score, "max": maximum})
    engine.dispose()
    upgrade("submission", sqlite_url)
    for session in migrated_session("submission", sqlite_url):
        scores = [e.score for e in session.scalars(select(Entry).order_by(Entry.code))]
        assert scores == [Decimal("0.1"), Decimal("0.7"), None]
        assert session.scalar(select(func.sum(Entry.max))) == Decimal("4")
