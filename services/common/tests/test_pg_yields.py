"""The PostgreSQL driver must yield to eventlet, or one slow query stalls every worker."""

import time

import eventlet
from sqlalchemy import text

from services.common.db import make_engine


def test_concurrent_queries_overlap(pg_url: str) -> None:
    engine = make_engine(pg_url)
    nap, workers = 0.5, 6

    def slow_query() -> None:
        with engine.connect() as conn:
            conn.execute(text(f"SELECT pg_sleep({nap})"))

    started = time.perf_counter()
    pool = eventlet.GreenPool(workers)
    for _ in range(workers):
        pool.spawn(slow_query)
    pool.waitall()
    elapsed = time.perf_counter() - started
    engine.dispose()
    # Run one after another they take workers * nap = 3 s; overlapped, about nap.
    assert elapsed < nap * workers / 2, f"queries did not overlap: {elapsed:.2f}s"
