"""A pooled PostgreSQL connection that died while idle is replaced, not handed out."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from services.common import db


def _cut_pooled_connection(engine: Engine, pg_url: str) -> int:
    """Puts one connection in the pool and ends its backend, as a restart would."""
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    killer = create_engine(pg_url, poolclass=NullPool)
    with killer.connect() as other:
        other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    return pid


def test_a_connection_cut_while_idle_is_replaced_on_checkout(pg_url: str, monkeypatch) -> None:
    engine = db.make_engine(pg_url)
    try:
        first = _cut_pooled_connection(engine, pg_url)
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
        with engine.connect() as conn:
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_just_used_goes_out_without_a_ping(pg_url: str, monkeypatch) -> None:
    """Within IDLE_PING_SECONDS no round trip is spent: the connection cut meanwhile is
    handed out as is, and its first statement fails as an in-flight one would."""
    engine = db.make_engine(pg_url)
    try:
        first = _cut_pooled_connection(engine, pg_url)
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 1e9)
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        with engine.connect() as conn:  # the broken one was dropped from the pool
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != first
    finally:
        engine.dispose()
