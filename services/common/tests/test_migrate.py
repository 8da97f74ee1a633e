"""Migrations started at once by several replicas (init containers) do not race."""

import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from services.common.migrate import lock_key

ROOT = Path(__file__).resolve().parents[3]


def test_concurrent_migrations_of_one_database_wait_for_each_other(pg_url: str) -> None:
    env = {**os.environ, "CCHC_SUBMISSION_DATABASE_URL": pg_url}
    engine = create_engine(pg_url)
    holder = engine.connect()
    # We hold the migration lock, as a first replica in the middle of its upgrade would.
    holder.execute(text("SELECT pg_advisory_lock(:k)"),
                   {"k": lock_key(make_url(pg_url).database)})
    runs = [subprocess.Popen([sys.executable, "-m", "services.common.migrate", "submission"],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(3)]
    try:
        time.sleep(4)
        assert [run.poll() for run in runs] == [None, None, None], "a migration did not wait"
    finally:
        holder.execute(text("SELECT pg_advisory_unlock_all()"))
        holder.close()
    outcomes = [(run.wait(120), run.stderr.read().decode()[-500:]) for run in runs]
    # One upgrades; the others then find the version current and do nothing.
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert len(versions) == 1
