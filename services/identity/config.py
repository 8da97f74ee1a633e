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

    lockout_failures: int = 5
    lockout_window_seconds: int = 900
    lockout_seconds: int = 900

    def provider_url(self) -> str:
        return (self.keycloak_url or f"http://127.0.0.1:{http_port(IDENTITY)}").rstrip("/")

    def issuer(self) -> str:
        return f"{self.provider_url()}/realms/{self.keycloak_realm}"


def identity_settings() -> IdentitySettings:
    return IdentitySettings()
