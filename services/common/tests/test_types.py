"""UtcDateTime and ExactDecimal keep instants and scores the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Integer, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from services.common.db import make_engine
from services.common.types import ExactDecimal, UtcDateTime, to_exact


class _Base(DeclarativeBase):
    pass


class _Row(_Base):
    __tablename__ = "typed_rows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    score: Mapped[Decimal | None] = mapped_column(ExactDecimal, nullable=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'types.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = make_engine(url)
    _Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_an_aware_time_comes_back_as_the_same_instant(engine: Engine) -> None:
    given = datetime(2026, 12, 3, 17, 0, tzinfo=timezone(timedelta(hours=7)))
    with Session(engine) as session, session.begin():
        session.add(_Row(id=1, at=given))
    with Session(engine) as session:
        stored = session.get(_Row, 1).at
        assert stored == given and stored.tzinfo is not None
        assert stored.astimezone(UTC).hour == 10
        # Comparisons in SQL see the instant too: 10:00 UTC is before 10:30 UTC.
        later = datetime(2026, 12, 3, 10, 30, tzinfo=UTC)
        assert session.scalar(select(func.count()).where(_Row.at < later)) == 1


def test_a_naive_time_is_refused(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(Exception, match="naive"):
        session.add(_Row(id=2, at=datetime(2026, 12, 3, 17, 0)))
        session.flush()


def test_scores_and_their_sum_are_exact(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        for i in range(10):
            session.add(_Row(id=10 + i, score=Decimal("0.1")))
        session.add(_Row(id=30, score="0.25"))
    with Session(engine) as session:
        total = session.scalar(select(func.sum(_Row.score)))
        assert total == Decimal("1.25") and isinstance(total, Decimal)
        assert session.get(_Row, 30).score == Decimal("0.2500")


@pytest.mark.parametrize("bad", [0.1, "1e9999999", "NaN", "0.00001", "abc", True])
def test_inexact_values_are_refused(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        to_exact(bad)  # type: ignore[arg-type]
