"""Database engines and a session per nameko worker.

nameko-sqlalchemy has no SQLAlchemy 2 release, so this small provider takes its
place. PostgreSQL is reached through pg8000: it is pure Python, so its socket I/O
yields to eventlet and one slow query does not stall the other workers. Two small
patches below make it cheaper per statement (bench/deadline_rush.py measures them).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pg8000.core
import pg8000.legacy
from nameko.extensions import DependencyProvider
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from services.common.config import database_url

# nameko's max_workers for every service (services/common/run.py): each worker holds at
# most one connection, so the pool keeps that many open. A smaller pool opened and
# closed an overflow connection (TCP, TLS context, authentication) for every request
# above its size, a sixth of the submission service's CPU in the deadline rush.
MAX_WORKERS = 20

_convert_paramstyle = pg8000.legacy.convert_paramstyle


@functools.lru_cache(maxsize=2048)
def _format_to_numbered(query: str) -> str:
    return _convert_paramstyle("format", query, ())[0]


def _cached_convert_paramstyle(style: str, query: str, args: Any) -> tuple[str, Any]:
    """pg8000's ``%s`` to ``$n`` rewrite, remembered per statement text.

    pg8000 rewrites every statement character by character in Python before sending
    it (a fifth of a save's CPU in the submission service). For the ``format`` style,
    which SQLAlchemy uses, the rewritten text depends on the statement alone and the
    values pass through unchanged, so the rewrite of a statement seen before is reused.
    """
    if style == "format":
        return _format_to_numbered(query), args
    return _convert_paramstyle(style, query, args)


pg8000.legacy.convert_paramstyle = _cached_convert_paramstyle

_execute_unnamed = pg8000.core.CoreConnection.execute_unnamed


def _pipelined_execute_unnamed(
    self: pg8000.core.CoreConnection, statement: str, vals: Any = (), oids: Any = (),
    stream: Any = None,
) -> pg8000.core.Context:
    """One statement with parameters in one round trip instead of pg8000's three.

    pg8000 sends Parse and waits, then Describe and waits, then Bind and Execute. The
    extended query protocol lets a client send the five messages (Parse, Describe,
    Bind, Execute, Sync) at once: the server answers them in order, and after an error
    it skips to the Sync, so the error arrives as before. Bind does not need Describe's
    answer (values travel as text with the types pg8000 picks), and the row description
    still comes before the rows. COPY keeps pg8000's own path.
    """
    if stream is not None:
        return _execute_unnamed(self, statement, vals=vals, oids=oids, stream=stream)
    context = pg8000.core.Context(statement)
    # Before anything is written: a value pg8000 cannot send must not leave half a
    # request in the socket's buffer.
    params = pg8000.core.make_params(self.py_types, vals)
    try:
        self.send_PARSE(pg8000.core.NULL_BYTE, statement, oids)
        self.send_DESCRIBE_STATEMENT(pg8000.core.NULL_BYTE)
        self.send_BIND(pg8000.core.NULL_BYTE, params)
        self.send_EXECUTE()
        pg8000.core._write(self._sock, pg8000.core.SYNC_MSG)
        pg8000.core._flush(self._sock)
    except AttributeError as exc:
        if self._sock is None:
            raise pg8000.core.InterfaceError("connection is closed") from exc
        raise
    self.handle_messages(context)
    return context


pg8000.core.CoreConnection.execute_unnamed = _pipelined_execute_unnamed


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # One connection per process: SQLite's busy wait is a C sleep that eventlet
        # cannot switch out of, so two green threads contending for the write lock
        # would freeze the process. Queueing for the single connection yields instead.
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers go on while one worker writes; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_size=MAX_WORKERS + 2, max_overflow=10, pool_pre_ping=True)


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class Database(DependencyProvider):
    """A SQLAlchemy session per worker, closed when the worker ends.

    Sessions are closed explicitly: a connection left to the garbage collector
    breaks eventlet's hub (sqlalchemy#8974).
    """

    def __init__(self, url: str | None = None) -> None:
        self.url = url
        self.engine: Engine | None = None
        self.sessions: dict[Any, Session] = {}

    def setup(self) -> None:
        url = self.url or self.container.config.get("DATABASE_URL") or database_url(
            self.container.service_name
        )
        self.engine = make_engine(url)
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    kill = stop

    def get_dependency(self, worker_ctx: Any) -> Session:
        session = self.session_factory()
        self.sessions[worker_ctx] = session
        return session

    def worker_teardown(self, worker_ctx: Any) -> None:
        session = self.sessions.pop(worker_ctx, None)
        if session is not None:
            session.close()


@contextmanager
def transaction(session: Session) -> Iterator[Session]:
    """Commit at the end of the block, roll back if it raises.

    Unlike ``session.begin()`` it does not fail when an earlier read in the same
    worker already began the transaction: the reads and the writes then commit
    together, which is what a worker wants.
    """
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
