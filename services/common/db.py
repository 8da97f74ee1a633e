"""Database engines and a session per nameko worker.

nameko-sqlalchemy has no SQLAlchemy 2 release, so this small provider takes its
place. PostgreSQL is reached through psycopg2 made green by psycogreen: libpq's
waits go through eventlet's hub, so one slow query does not stall the other workers
(services/common/tests/test_pg_yields.py proves they overlap). Measured side by side
under eventlet it runs about three times the statements per second of pure-Python
pg8000 (bench/pg_drivers.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventlet import patcher
from nameko.extensions import DependencyProvider
from psycogreen.eventlet import patch_psycopg
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from services.common.config import database_url

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
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets readers go on while one worker writes; foreign keys are off by default.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=MAX_WORKERS + 2, max_overflow=10)
    _ping_when_idle(engine)
    return engine


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
