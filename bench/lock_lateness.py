"""How late can an accepted write commit after a window's lock instant, under load?

N threads write as fast as they can into a PostgreSQL table while a window locks, each
transaction: the window check, an insert, a short pause of "work" (0–``--jitter`` ms,
random: a loaded service, a GC pause, a slow network between the last statement and
COMMIT), then COMMIT. Two modes, one after the other on a fresh database:

- ``commit``: services/common/windows.py as the services use it: the check arms the
  deferred constraint trigger, which decides inside COMMIT;
- ``last-statement``: the previous design: the clock read again as the last statement
  before COMMIT, and COMMIT sent after it.

Per mode it prints writes accepted and refused, and for the latest accepted write when
its COMMIT was sent and when it returned, relative to the lock instant (negative:
before it). The lateness that matters is the COMMIT's: accepted writes must have sent
COMMIT (and been decided) before the instant.

    .venv/bin/python bench/lock_lateness.py [--threads 20] [--lock-in 3] [--jitter 30]

Needs PostgreSQL (``CCHC_BENCH_PG``, default the tests' postgres://postgres@127.0.0.1);
creates and drops a database ``cchc_bench_lock_<random>``. About ``2 × (lock-in + 1)`` s.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.common import windows  # noqa: E402
from services.common.errors import DomainError  # noqa: E402

PG = os.environ.get("CCHC_BENCH_PG", os.environ.get(
    "CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432"))


@dataclass
class Window:
    kind: str
    opens_at: datetime
    locks_at: datetime


@dataclass
class Outcome:
    accepted: int = 0
    refused: int = 0
    errors: int = 0
    # (COMMIT sent, COMMIT returned) of accepted writes, server clock, seconds vs lock.
    commits: list[tuple[float, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _clock(session: Session) -> datetime:
    return session.scalar(text("SELECT clock_timestamp()"))


def _writer(engine, window: Window, mode: str, jitter: float, until: float,
            outcome: Outcome, seed: int) -> None:
    rng = random.Random(seed)
    with Session(engine) as session:
        while time.monotonic() < until:
            try:
                if mode == "commit":
                    windows.check_open(session, window)
                else:
                    _check_only(session, window)
                session.execute(text("INSERT INTO writes (note) VALUES (:n)"),
                                {"n": uuid.uuid4().hex})
                if mode == "last-statement":
                    _check_only(session, window)
                time.sleep(rng.uniform(0, jitter))  # between the last statement and COMMIT
                sent = _offset(_clock_outside(engine), window)
                windows.commit(session, window if mode == "commit" else None)
                returned = _offset(_clock_outside(engine), window)
                with outcome.lock:
                    outcome.accepted += 1
                    outcome.commits.append((sent, returned))
            except DomainError:
                session.rollback()
                with outcome.lock:
                    outcome.refused += 1
            except Exception:
                session.rollback()
                with outcome.lock:
                    outcome.errors += 1


def _check_only(session: Session, window: Window) -> None:
    """The previous design's check: the clock, with nothing armed for the COMMIT."""
    now = _clock(session)
    if windows.window_state(window.opens_at, window.locks_at, now) != "open":
        raise windows.window_closed(window.kind, window.opens_at, window.locks_at, now)



def _clock_outside(engine) -> datetime:
    """The server's clock read on a connection of its own (not the writer's transaction).

    Read right before COMMIT is sent and right after it returns: the commit lies between.
    """
    with engine.connect() as conn:
        return conn.scalar(text("SELECT clock_timestamp()"))


def _offset(moment: datetime, window: Window) -> float:
    return (moment - window.locks_at).total_seconds()


def run(mode: str, threads: int, lock_in: float, jitter_ms: float) -> Outcome:
    name = f"cchc_bench_lock_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = create_engine(f"{PG}/{name}", pool_size=2 * threads + 2, max_overflow=0)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE writes (id serial PRIMARY KEY, note text)"))
            for statement in windows.commit_lock_ddl(("writes",)):
                conn.execute(text(statement))
            now = conn.scalar(text("SELECT clock_timestamp()"))
        window = Window("self_assessment", now - timedelta(hours=1),
                        now + timedelta(seconds=lock_in))
        outcome = Outcome()
        until = time.monotonic() + lock_in + 1.0
        workers = [threading.Thread(target=_writer, args=(engine, window, mode,
                                                           jitter_ms / 1000, until,
                                                           outcome, n))
                   for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        with engine.connect() as conn:
            stored = conn.scalar(text("SELECT count(*) FROM writes"))
        assert stored == outcome.accepted, (stored, outcome.accepted)
        return outcome
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--lock-in", type=float, default=3.0)
    parser.add_argument("--jitter", type=float, default=30.0, help="ms of work before COMMIT")
    args = parser.parse_args()
    print(f"{args.threads} writers, lock in {args.lock_in:g} s, 0–{args.jitter:g} ms "
          f"between the last statement and COMMIT")
    print(f"{'mode':<16}{'accepted':>9}{'refused':>9}{'errors':>8}"
          f"{'last COMMIT sent':>19}{'it returned':>14}{'sent after lock':>17}")
    for mode in ("commit", "last-statement"):
        o = run(mode, args.threads, args.lock_in, args.jitter)
        sent, returned = max(o.commits) if o.commits else (float("nan"), float("nan"))
        late = sum(1 for s, _ in o.commits if s > 0)
        print(f"{mode:<16}{o.accepted:>9}{o.refused:>9}{o.errors:>8}"
              f"{sent * 1000:>16.1f} ms{returned * 1000:>11.1f} ms{late:>17}")


if __name__ == "__main__":
    main()
