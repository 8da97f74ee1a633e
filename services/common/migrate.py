"""Alembic migrations of every service, each against its own database.

``python -m services.common.migrate [service ...]`` upgrades the named services
(all six by default) to their newest revision.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData

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
            context.run_migrations()
    engine.dispose()


def main(argv: Sequence[str]) -> None:
    for service in argv or SERVICES:
        upgrade(service)
        print(f"migrated {service}")


if __name__ == "__main__":
    main(sys.argv[1:])
