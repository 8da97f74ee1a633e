"""Does the services' PostgreSQL driver yield to eventlet? N concurrent ``pg_sleep`` vs serial.

The services run under eventlet and reach PostgreSQL through psycopg2 made green by
psycogreen (``services.common.db.make_engine`` applies it under eventlet). If it
yields, N green threads each
sleeping ``--nap`` seconds in the database finish in about one nap; if it blocked, they
would take as long as running the queries one after another.

    .venv/bin/python bench/pg_yield.py [--queries 10] [--nap 0.3]

The server is ``CCHC_BENCH_PG`` (else ``CCHC_TEST_PG``, else the local test server);
the queries need no tables, so the ``postgres`` database is used.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.common.db import make_engine  # noqa: E402

PG = os.environ.get(
    "CCHC_BENCH_PG",
    os.environ.get("CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432"),
)


def nap_query(engine: Engine, nap: float) -> None:
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_sleep(:nap)"), {"nap": nap})


def timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10)
    parser.add_argument("--nap", type=float, default=0.3, help="seconds each query sleeps")
    args = parser.parse_args()
    # The services' own engine settings (pool of 10 + 20 overflow): what a worker gets.
    engine = make_engine(f"{PG}/postgres")
    try:

        def serial() -> None:
            for _ in range(args.queries):
                nap_query(engine, args.nap)

        def concurrent(nap: float = args.nap) -> None:
            pool = eventlet.GreenPool(args.queries)
            for _ in range(args.queries):
                pool.spawn(nap_query, engine, nap)
            pool.waitall()

        # Open the pool's connections first: a connection's login (SCRAM) costs CPU, and the
        # question is whether waiting queries overlap, not how fast connections open.
        concurrent(0)
        one_by_one = timed(serial)
        together = timed(concurrent)
    finally:
        engine.dispose()
    print(f"psycopg2 + psycogreen under eventlet: {args.queries} x pg_sleep({args.nap:g})")
    print(f"serial:     {one_by_one:6.2f} s")
    print(f"concurrent: {together:6.2f} s  (one nap is {args.nap:g} s)")
    print(f"serial/concurrent: {one_by_one / together:.1f}x "
          f"({'overlapped' if together < one_by_one / 2 else 'NOT overlapped'})")


if __name__ == "__main__":
    main()
