"""Gateway settings, from the environment."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import http_port
from services.common.contracts import DEFAULT_CLIENT_ID, DEFAULT_REALM, IDENTITY


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    rpc_timeout: float = 10.0
    # Calls this gateway may have waiting on one service (CCHC_RPC_MAX_IN_FLIGHT); past
    # it, 503 + Retry-After at once. More only queue in the broker and contend in the
    # database: on 2 cores, 200 clients saved at the same rate with 10 as with 32, at
    # p99 240 ms instead of 574 (bench/deadline_rush.py, README "The rush").
    rpc_max_in_flight: int = 10
    # How long a call past that bound waits for a place before its 503
    # (CCHC_RPC_ADMISSION_WAIT, seconds): 20 clients saving at once were refused 100
    # times in 10 s with no wait, each paying a second's Retry-After.
    rpc_admission_wait: float = 0.05
    # /readyz must answer quickly even when a service is gone.
    readiness_timeout: float = 2.0
    # The folder store of evidence lives under it (CCHC_EVIDENCE_STORE=folder); the
    # store itself is chosen by services.common.objectstore.StoreSettings.
    data_dir: Path = Path("var")
    # Largest evidence file accepted (CCHC_EVIDENCE_MAX_BYTES); past it, 413.
    evidence_max_bytes: int = 20 * 1024 * 1024
    # Largest body of any other request (JSON, YAML, an XLSX set); past it, 413 before
    # the route reads it. Multipart bodies get the evidence limit (gateway/guard.py).
    max_body_bytes: int = 4 * 1024 * 1024
    # Strict-Transport-Security: "auto" when the request came over TLS (or the ingress
    # says X-Forwarded-Proto: https), "always", or "never".
    hsts: Literal["auto", "always", "never"] = "auto"
    # local: the identity service is the provider and counts failed sign-ins itself;
    # keycloak: the gateway counts them (Keycloak cannot tell the identity database).
    identity_provider: Literal["local", "keycloak"] = "local"

    # Sign-in: the same OpenID client code against Keycloak or the identity service's
    # own provider, which serves Keycloak's paths on its port (local mode).
    keycloak_url: str | None = None
    keycloak_realm: str = DEFAULT_REALM
    keycloak_client_id: str = DEFAULT_CLIENT_ID
    keycloak_client_secret: str | None = None
    # When Keycloak is reached on an inner address but signs with its public hostname.
    keycloak_issuer: str | None = None
    # A token with an unknown kid refetches the realm's keys, at most this often, so
    # made-up kids cannot turn the gateway into a flood of requests to the provider.
    jwks_min_refresh_seconds: float = 5.0
    # Keys are refetched at least this often even when every kid is known.
    jwks_max_age_seconds: float = 3600.0
    # Clock difference tolerated on exp/iat, in seconds.
    token_leeway_seconds: int = 10

    def provider_url(self) -> str:
        return (self.keycloak_url or f"http://127.0.0.1:{http_port(IDENTITY)}").rstrip("/")

    def issuer(self) -> str:
        return self.keycloak_issuer or f"{self.provider_url()}/realms/{self.keycloak_realm}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
