"""Gateway settings, from the environment."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    rpc_timeout: float = 10.0
    # /readyz must answer quickly even when a service is gone.
    readiness_timeout: float = 2.0


@lru_cache
def get_settings() -> Settings:
    return Settings()
