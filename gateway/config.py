"""Gateway settings, from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    rpc_timeout: float = 10.0
    # /readyz must answer quickly even when a service is gone.
    readiness_timeout: float = 2.0
    # The folder store of evidence lives under it (CCHC_EVIDENCE_STORE=folder); the
    # store itself is chosen by services.evidence.storage.StoreSettings.
    data_dir: Path = Path("var")
    # Largest evidence file accepted (CCHC_EVIDENCE_MAX_BYTES); past it, 413.
    evidence_max_bytes: int = 20 * 1024 * 1024


@lru_cache
def get_settings() -> Settings:
    return Settings()
