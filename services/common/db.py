"""Database engines and a session per nameko worker.

nameko-sqlalchemy has no SQLAlchemy 2 release, so this small provider takes its
place. PostgreSQL is reached through psycopg2 made green by psycogreen: libpq's
waits go through eventlet's hub, so one slow query does not stall the other workers
(services/common/tests/test_pg_yields.py proves they overlap). Measured side by side
under eventlet it runs about three times the statements per second of pure-Python
pg8000 (bench/pg_drivers.py).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from eventlet import patcher
from nameko.extensions import DependencyProvider
from prometheus_client import Counter
from psycogreen.eventlet import patch_psycopg
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolResetState, QueuePool
from sqlalchemy.pool import base as pool_base
from sqlalchemy.sql.base import Executable

from services.common.config import database_url

log = logging.getLogger(__name__)

ABANDONED = Counter(
    "cchc_db_connections_abandoned",
    "Database connections some code never gave back, found by the garbage collector and "
    "closed instead of rolled back. Anything above zero is a bug to find.",
)

# nameko's max_workers for every service (services/common/run.py): each worker holds at
# most one connection, so the pool keeps that many open. A smaller pool opened and
# closed an overflow connection (TCP, TLS context, authentication) for every request
# above its size, a sixth of the submission service's CPU in the deadline rush.
MAX_WORKERS = 20


def make_engine(url: str) -> Engine:
    if url.startswith("postgresql") and patcher.is_monkey_patched("socket"):
        # Under eventlet an unpatched psycopg2 would block the whole process on every
        # query; patching here, where every engine is made, means no entry point can
        # forget it. Without eventlet (migrations, tests' set-up) libpq blocks as usual.
        patch_psycopg()
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
            pool_reset_on_return=None,
        )
        _reset_on_return(engine)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers go on while one worker writes; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=MAX_WORKERS + 2, max_overflow=10,
                           pool_reset_on_return=None)
    _reset_on_return(engine)
    _ping_when_idle(engine)
    return engine


def _reset_on_return(engine: Engine) -> None:
    """The pool's rollback on return, except for a connection the garbage collector found.

    SQLAlchemy rolls back a checked-out connection whose owner was collected, from
    inside the collector. Under eventlet that rollback waits for PostgreSQL through the
    hub, so the collector switches to other green threads midway through whatever code
    happened to allocate: one of them parsing Python while another was building an AST
    raised "AST constructor recursion depth mismatch" in a service's start-up
    (sqlalchemy#8974 is the same hazard). Such a connection is closed instead: libpq
    ends it without waiting, and PostgreSQL rolls back what it held. It is counted and
    logged, since only a bug leaves one behind.
    """

    @event.listens_for(engine, "reset")
    def _reset(dbapi_conn: Any, record: Any, state: PoolResetState) -> None:
        if record is not None and _collected():
            ABANDONED.inc()
            log.warning("a database connection was left to the garbage collector; closing it")
            record.invalidate()
            return
        if not state.transaction_was_reset:
            dbapi_conn.rollback()


_FINALIZE_FAIRY = pool_base._finalize_fairy.__code__


def _collected() -> bool:
    """Whether the connection being reset is one the garbage collector found.

    SQLAlchemy says so only in a local of the function that resets it
    (``_finalize_fairy(is_gc_cleanup=True)``), a few frames up; test_abandoned.py fails if
    that stops being true.
    """
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return False
        if frame.f_code is _FINALIZE_FAIRY:
            return bool(frame.f_locals.get("is_gc_cleanup"))
        frame = frame.f_back
    return False


# A connection back in use within this many seconds is taken as alive.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, but only for a connection idle for a while.

    Pinging at every checkout was one round trip more per request (of eight in a
    save) in the deadline rush, when connections come back within milliseconds. One
    that sat idle may have been cut (PostgreSQL restarted, a proxy's idle timeout): that
    one is pinged, and replaced when the ping fails, as pool_pre_ping would.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in_at")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return  # new, or just used
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        except Exception as exc:  # whatever the driver raises for a dead socket
            raise DisconnectionError() from exc


def prepare(engine: Engine, statements: Mapping[str, Executable]) -> None:
    """Runs ``statements`` as server-side prepared statements on PostgreSQL.

    psycopg2 sends every statement as text, which PostgreSQL parses and plans anew each
    time: for the save's locked read that was three quarters of its server CPU (0.30 ms
    as text against 0.08 ms prepared, measured on its database). Each new connection
    PREPAREs them once; afterwards the text SQLAlchemy compiles for one of them is
    swapped, just before it is sent, for ``EXECUTE name(...)`` with the same parameters,
    already converted by SQLAlchemy, so results come back exactly as before. A
    statement compiled differently (another dialect option) is simply sent as text.
    Needs connections of its own (no PgBouncer in transaction mode). Only psycopg2,
    whose ``%(name)s`` parameters this rewrites; any other driver or SQLite: nothing.
    """
    if engine.dialect.name != "postgresql" or engine.dialect.driver != "psycopg2" \
            or not statements:
        return
    preparing: list[str] = []
    swaps: dict[str, str] = {}
    for name, statement in statements.items():
        sql = str(statement.compile(dialect=engine.dialect))
        order: list[str] = []

        def number(found: re.Match[str], order: list[str] = order) -> str:
            if found.group(1) not in order:
                order.append(found.group(1))
            return f"${order.index(found.group(1)) + 1}"

        preparing.append(f"PREPARE {name} AS {_PYFORMAT.sub(number, sql)}")
        swaps[sql] = f"EXECUTE {name}({', '.join(f'%({key})s' for key in order)})"

    @event.listens_for(engine, "connect")
    def _prepare(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        for sql in preparing:
            cursor.execute(sql)
        cursor.close()
        dbapi_conn.commit()

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _swap(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
              _executemany: bool) -> tuple[str, Any]:
        return swaps.get(statement, statement), parameters


_PYFORMAT = re.compile(r"%\((\w+)\)s")


def ping(engine: Engine) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


class Database(DependencyProvider):
    """A SQLAlchemy session per worker, closed when the worker ends.

    Sessions are closed explicitly: a connection left to the garbage collector
    breaks eventlet's hub (sqlalchemy#8974).
    """

    def __init__(self, url: str | None = None,
                 prepared: Mapping[str, Executable] | None = None) -> None:
        self.url = url
        # The service's hottest statements, prepared on PostgreSQL (``prepare``).
        self.prepared = prepared or {}
        self.engine: Engine | None = None
        self.sessions: dict[Any, Session] = {}

    def setup(self) -> None:
        url = self.url or self.container.config.get("DATABASE_URL") or database_url(
            self.container.service_name
        )
        self.engine = make_engine(url)
        prepare(self.engine, self.prepared)
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
