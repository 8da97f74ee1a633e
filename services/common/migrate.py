"""Alembic migrations of every service, each against its own database.

``python -m services.common.migrate [service ...]`` upgrades the named services
(all six by default) to their newest revision.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text

from services.common.config import database_url
from services.common.contracts import SERVICES
from services.common.db import make_engine

SERVICES_DIR = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    # ConfigParser treats % as interpolation: a password with % would break it.
    cfg.set_main_option("sqlalchemy.url", (url or database_url(service)).replace("%", "%%"))
    return cfg


def upgrade(service: str, url: str | None = None) -> None:
    command.upgrade(alembic_config(service, url), "head")


def run_env(target_metadata: Sequence[MetaData]) -> None:
    """The body of every service's ``migrations/env.py``."""
    url = context.config.get_main_option("sqlalchemy.url")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=list(target_metadata), literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=list(target_metadata),
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas start together and each init container migrates: the first
                # takes the lock, the others wait for its commit and then find the
                # version current. Alembic reads the version after this, inside the
                # same transaction, and PostgreSQL's DDL is transactional.
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": lock_key(connection.engine.url.database or "")})
            context.run_migrations()
    engine.dispose()


def lock_key(database: str) -> int:
    """A stable 63-bit advisory lock key per database (one per service's database)."""
    digest = hashlib.sha256(f"cchc-migrate:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def main(argv: Sequence[str]) -> None:
    for service in argv or SERVICES:
        upgrade(service)
        print(f"migrated {service}")


if __name__ == "__main__":
    main(sys.argv[1:])
