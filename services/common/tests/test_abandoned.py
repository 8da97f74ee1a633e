"""A connection some code never gave back is closed by the collector, without a switch.

Rolling it back would wait for PostgreSQL through eventlet's hub from inside the garbage
collector, running other green threads midway through whatever allocated.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import eventlet
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from services.common.db import make_engine


def _abandoned() -> float:
    return REGISTRY.get_sample_value("cchc_db_connections_abandoned_total") or 0.0


@pytest.fixture(params=["postgresql", "sqlite"])
def engine(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[Engine]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else sqlite_url
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


@pytest.mark.leaves_a_connection
def test_a_connection_left_to_the_collector_is_closed_without_a_switch(engine: Engine) -> None:
    before = _abandoned()
    session = Session(engine)
    session.execute(text("INSERT INTO t VALUES (1)"))
    raw = session.connection().connection.dbapi_connection
    session.info["cycle"] = session  # only the collector can free it now
    switched: list[bool] = []
    eventlet.spawn(switched.append, True)  # runs at the first switch to the hub

    del session
    gc.collect()

    assert not switched, "the collector switched green threads"
    assert _abandoned() == before + 1
    with pytest.raises(Exception):  # noqa: B017 (each driver has its own error)
        raw.cursor().execute("SELECT 1")
    # The pool goes on with a new connection; what was never committed is gone.
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    eventlet.sleep(0)


def test_a_connection_given_back_is_rolled_back_as_before(engine: Engine) -> None:
    before = _abandoned()
    # Below SQLAlchemy's Connection, which rolls back itself: the pool's reset must.
    raw = engine.raw_connection()
    raw.cursor().execute("INSERT INTO t VALUES (1)")
    raw.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    assert _abandoned() == before
