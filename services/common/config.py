"""Configuration from the environment, one place for every process.

Each service owns its database. The URL comes from ``CCHC_<SERVICE>_DATABASE_URL``;
when unset, ``CCHC_DATABASE_URL_TEMPLATE`` (``{service}`` is replaced) lets an
operator or CI point all six services at one PostgreSQL server with a database each;
when that is unset too, a SQLite file under ``CCHC_DATA_DIR`` is the local default.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.contracts import SERVICE_PORTS


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    data_dir: Path = Path("var")
    database_url_template: str | None = None
    bind_host: str = "127.0.0.1"
    # Seconds a caller waits for an RPC reply; requests expire on the broker after it.
    rpc_timeout: float = 10.0
    outbox_interval: float = 0.5
    # development: the local defaults (no client secret, unencrypted keys, a known
    # actor key) are allowed; production refuses to start without real secrets.
    env: Literal["development", "production"] = "development"
    # HMAC key the gateway signs actors with and services check (services/common/actor.py).
    actor_secret: str | None = None
    # Seconds between measurements of the gauges the alert rules read (outbox backlog,
    # units sent before a lock); well under Prometheus' scrape interval.
    gauge_interval: float = 10.0


def settings() -> Settings:
    return Settings()


def database_url(service: str, cfg: Settings | None = None) -> str:
    cfg = cfg or settings()
    explicit = os.environ.get(f"CCHC_{service.upper()}_DATABASE_URL")
    if explicit:
        return explicit
    if cfg.database_url_template:
        return cfg.database_url_template.format(service=service)
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{cfg.data_dir.resolve() / (service + '.db')}"


def http_port(service: str) -> int:
    """Port of a service's operations endpoints (/healthz, /readyz, /metrics)."""
    return int(os.environ.get(f"CCHC_{service.upper()}_PORT", SERVICE_PORTS[service]))
