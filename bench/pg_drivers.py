"""Which PostgreSQL driver should the services use under eventlet?

Runs the same work through SQLAlchemy with pure-Python pg8000 (the baseline) and with
psycopg2 made green by psycogreen (what ``services.common.db.make_engine`` uses), each
in its own eventlet-patched process: 20 green threads, each writing and reading back
rows in short transactions, like saves in the deadline rush; and 6 concurrent
``pg_sleep`` calls, which overlap only if the driver yields to the hub.

    .venv/bin/python bench/pg_drivers.py [--workers 20] [--transactions 200]

Server: ``CCHC_BENCH_PG``, else ``CCHC_TEST_PG``, else the local test server.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SERVER = os.environ.get("CCHC_BENCH_PG") or os.environ.get(
    "CCHC_TEST_PG", "postgresql+psycopg2://postgres:postgres@127.0.0.1:5432"
).split("://", 1)[1]

CHILD = r"""
import warnings; warnings.filterwarnings("ignore")
import eventlet; eventlet.monkey_patch()
import json, sys, time
from sqlalchemy import create_engine, text
driver, server, workers, transactions = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if driver == "psycopg2":
    from psycogreen.eventlet import patch_psycopg; patch_psycopg()
engine = create_engine(f"postgresql+{driver}://{server}/postgres", pool_size=workers,
                       max_overflow=0)
table = f"bench_{driver}"
with engine.begin() as c:
    c.execute(text(f"DROP TABLE IF EXISTS {table}"))
    c.execute(text(f"CREATE TABLE {table} (id int PRIMARY KEY, score numeric, note text)"))

def nap(_):
    with engine.connect() as c:
        c.execute(text("SELECT pg_sleep(0.3)"))

def save(i):
    with engine.begin() as c:
        for j in range(5):
            c.execute(text(f"INSERT INTO {table} VALUES (:id, :s, :n) ON CONFLICT (id) "
                           "DO UPDATE SET score = excluded.score"),
                      {"id": i * 10 + j, "s": j * 0.25, "n": "giải trình " * 5})
            c.execute(text(f"SELECT score, note FROM {table} WHERE id = :id"),
                      {"id": i * 10 + j}).all()

pool = eventlet.GreenPool(workers)
started = time.perf_counter(); list(pool.imap(nap, range(6)))
overlap = time.perf_counter() - started
started = time.perf_counter(); list(pool.imap(save, range(transactions)))
elapsed = time.perf_counter() - started
with engine.begin() as c:
    c.execute(text(f"DROP TABLE {table}"))
print(json.dumps({"overlap_s": overlap, "statements_per_s": transactions * 10 / elapsed,
                  "transactions_per_s": transactions / elapsed}))
"""


def run(driver: str, workers: int, transactions: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, driver, SERVER, str(workers),
                          str(transactions)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--transactions", type=int, default=200)
    args = parser.parse_args()
    results = {d: run(d, args.workers, args.transactions) for d in ("pg8000", "psycopg2")}
    print(f"{args.workers} green threads, {args.transactions} transactions of 10 statements")
    print(f"{'driver':<24}{'6 x pg_sleep(0.3)':>20}{'statements/s':>16}{'transactions/s':>17}")
    for driver, r in results.items():
        label = driver + (" + psycogreen" if driver == "psycopg2" else " (baseline)")
        print(f"{label:<24}{r['overlap_s']:>19.2f}s{r['statements_per_s']:>16.0f}"
              f"{r['transactions_per_s']:>17.0f}")
    ratio = results["psycopg2"]["statements_per_s"] / results["pg8000"]["statements_per_s"]
    print(f"psycopg2 / pg8000: {ratio:.2f}x statements per second")


if __name__ == "__main__":
    main()
