"""Settings of the identity service: which provider, token lifetimes, lockout."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.common.config import http_port
from services.common.contracts import DEFAULT_CLIENT_ID, DEFAULT_REALM, IDENTITY


class IdentitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CCHC_", extra="ignore")

    # local: this service is the OpenID provider; keycloak: a Keycloak realm is.
    identity_provider: Literal["local", "keycloak"] = "local"
    # Base URL of the provider (Keycloak's server_url). Unset in local mode: this
    # service's own port on the loopback.
    keycloak_url: str | None = None
    keycloak_realm: str = DEFAULT_REALM
    keycloak_client_id: str = DEFAULT_CLIENT_ID
    keycloak_client_secret: str | None = None
    # Keycloak mode: an administrator of the realm that may create users and map roles.
    keycloak_admin_username: str | None = None
    keycloak_admin_password: str | None = None
    keycloak_admin_realm: str = "master"

    # Encrypts the local provider's private keys in the database (PEM, PKCS#8).
    signing_key_passphrase: str | None = None

    # Keycloak's defaults are 5 and 30 minutes; sessions here last a working stretch.
    access_token_seconds: int = 900
    refresh_token_seconds: int = 1800

    # CCHC_ENV: outside development a client secret and an encrypted signing key are
    # required, and the service refuses to start without them.
    env: Literal["development", "production"] = "development"

    lockout_failures: int = 5
    lockout_window_seconds: int = 900
    lockout_seconds: int = 900

    @property
    def development(self) -> bool:
        return self.env == "development"

    def production_problems(self) -> list[str]:
        """What is missing for this configuration to run outside development."""
        if self.development:
            return []
        problems = []
        if self.keycloak_client_secret is None:
            problems.append("CCHC_KEYCLOAK_CLIENT_SECRET is required")
        if self.identity_provider == "local" and not self.signing_key_passphrase:
            problems.append("CCHC_SIGNING_KEY_PASSPHRASE is required (signing keys are "
                            "refused unencrypted)")
        return problems

    def provider_url(self) -> str:
        return (self.keycloak_url or f"http://127.0.0.1:{http_port(IDENTITY)}").rstrip("/")

    def issuer(self) -> str:
        return f"{self.provider_url()}/realms/{self.keycloak_realm}"


def identity_settings() -> IdentitySettings:
    return IdentitySettings()
