"""pg8000 with a statement in one round trip (services.common.db): answers and errors as before."""

from decimal import Decimal

import pg8000.core
import pytest
from sqlalchemy import exc, text

from services.common import db


def test_rows_errors_and_the_connection_after_them(pg_url: str) -> None:
    assert pg8000.core.CoreConnection.execute_unnamed is db._pipelined_execute_unnamed
    engine = db.make_engine(pg_url)
    sends = []
    real_flush = pg8000.core._flush

    def counting_flush(sock) -> None:
        sends.append(1)
        real_flush(sock)

    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, score numeric(10, 4))"))
            conn.execute(text("INSERT INTO t VALUES (:i, :s)"),
                         [{"i": 1, "s": Decimal("1.25")}, {"i": 2, "s": None}])
        pg8000.core._flush = counting_flush
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT id, score FROM t WHERE id >= :low ORDER BY id"),
                                {"low": 1}).all()
            assert [tuple(r) for r in rows] == [(1, Decimal("1.2500")), (2, None)]
            # The pool's ping, BEGIN, then the whole statement at once (pg8000 alone: 5).
            assert len(sends) == 3
            # A broken key: the error comes back, the transaction is rolled back, and the
            # same connection answers the next statement.
            with pytest.raises(exc.IntegrityError):
                conn.execute(text("INSERT INTO t VALUES (:i, :s)"), {"i": 1, "s": 2})
            conn.rollback()
            with pytest.raises(exc.DBAPIError):
                conn.execute(text("SELECT CAST(:v AS numeric)"), {"v": "not a number"})
            conn.rollback()
            with pytest.raises(exc.ProgrammingError):
                conn.execute(text("SELEC :v"), {"v": 1})
            conn.rollback()
            assert conn.execute(text("SELECT CAST(:a AS int) + 3"), {"a": 2}).scalar() == 5
    finally:
        pg8000.core._flush = real_flush
        engine.dispose()


def test_the_statement_rewrite_is_pg8000s_own() -> None:
    for query in ("SELECT %s, '%%s', \"a%%b\" FROM t WHERE x = %s -- %s\n",
                  "INSERT INTO t (a, b) VALUES (%s, %s) RETURNING t.id",
                  "SELECT $$%s$$, %s"):
        args = (1, 2)
        assert db._cached_convert_paramstyle("format", query, args) == \
            db._convert_paramstyle("format", query, args)
    named = db._cached_convert_paramstyle("named", "SELECT :a, :b", {"a": 1, "b": 2})
    assert named == ("SELECT $1, $2", (1, 2))
