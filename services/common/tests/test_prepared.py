"""Server-side prepared statements (db.prepare) on a real PostgreSQL, and none on SQLite."""

from typing import Any

import pytest
from sqlalchemy import JSON, Column, Integer, MetaData, Table, bindparam, event, select, text

from services.common.db import make_engine, prepare

metadata = MetaData()
things = Table("things", metadata, Column("id", Integer, primary_key=True),
               Column("size", Integer), Column("data", JSON))
# The same parameter twice, and a JSON one SQLAlchemy converts before sending.
BY_SIZE = (select(things.c.id, things.c.data)
           .where(things.c.size >= bindparam("least"), things.c.id != bindparam("least") + 2)
           .order_by(things.c.id))
INSERT = things.insert().values(size=bindparam("size"), data=bindparam("data", type_=JSON))


def _sent(engine: Any) -> list[str]:
    sent: list[str] = []
    event.listen(engine, "after_cursor_execute",
                 lambda _c, _cur, statement, *_: sent.append(statement.split("(")[0]))
    return sent


def test_prepared_statements_answer_as_plain_ones_and_every_new_connection_has_them(
        pg_url: str) -> None:
    plain, prepared = make_engine(pg_url), make_engine(pg_url)
    metadata.create_all(plain)
    prepare(prepared, {"cchc_test_by_size": BY_SIZE, "cchc_test_insert": INSERT})
    sent = _sent(prepared)
    with prepared.begin() as conn:
        for size in range(5):
            conn.execute(INSERT, {"size": size, "data": {"size": size, "name": "tệp"}})
    assert sent == ["EXECUTE cchc_test_insert"] * 5
    with plain.connect() as conn:
        expected = conn.execute(BY_SIZE, {"least": 2}).all()
    assert [row.data["size"] for row in expected] == [2, 4]
    for _ in range(2):  # the second time on a connection made after the first was dropped
        sent.clear()
        with prepared.connect() as conn:
            assert conn.execute(BY_SIZE, {"least": 2}).all() == expected
            assert conn.execute(select(things.c.id).where(things.c.size == 1)).all() == [(2,)]
        assert sent == ["EXECUTE cchc_test_by_size", "SELECT things.id \nFROM things \nWHERE "
                        "things.size = %"]
        prepared.dispose()
    with plain.connect() as conn:
        names = conn.execute(text("SELECT name FROM pg_prepared_statements")).all()
    assert names == []  # a connection's own: nothing leaks to others
    plain.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "pg8000"])
def test_nothing_is_prepared_on_sqlite_or_another_postgresql_driver(
        backend: str, request: pytest.FixtureRequest, tmp_path) -> None:
    """The swap rewrites psycopg2's ``%(name)s`` parameters; pg8000 sends its own."""
    url = (f"sqlite:///{tmp_path / 'x.db'}" if backend == "sqlite"
           else request.getfixturevalue("pg_url").replace("+psycopg2", "+pg8000"))
    engine = make_engine(url)
    metadata.create_all(engine)
    prepare(engine, {"cchc_test_by_size": BY_SIZE})
    sent = _sent(engine)
    with engine.connect() as conn:
        assert conn.execute(BY_SIZE, {"least": 0}).all() == []
    assert sent[0].startswith("SELECT things.id")
    engine.dispose()
