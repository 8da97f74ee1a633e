"""The gateway's OpenID client: python-keycloak's ``KeycloakOpenID`` with a key cache.

The same code runs against a province's Keycloak and against the identity service's
local provider, which serves Keycloak's paths. Tokens are verified here, in the
gateway, against the realm's JWK set: fetched once, kept, and fetched again when a
token names a key we do not know (the provider rotated) or the set is old.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from jwcrypto import jwk
from jwcrypto.common import JWException
from jwcrypto.jwt import JWTMissingKey
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakError
from prometheus_client import Counter

from gateway.config import Settings

JWKS_FETCHES = Counter("cchc_gateway_jwks_fetches", "Fetches of the realm's JWK set.",
                       ["reason"])


# Tokens already verified, with their claims. Every API call carries its token and the
# guard and the route both ask: the RS256 check and claim parsing were a sixth of the
# gateway's CPU in the deadline rush. A hit still honours ``exp``; only verified tokens
# are kept, so the cache can never make a bad token good. Bounded, oldest use first out.
VERIFIED_KEPT = 20_000


class InvalidToken(Exception):
    """The token is missing, malformed, forged, expired or meant for someone else."""


class ProviderUnavailable(Exception):
    """The OpenID provider did not answer."""


class OpenIdClient:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keycloak = KeycloakOpenID(
            server_url=settings.provider_url() + "/",
            realm_name=settings.keycloak_realm,
            client_id=settings.keycloak_client_id,
            client_secret_key=settings.keycloak_client_secret,
            timeout=10,
        )
        self._keys: jwk.JWKSet | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._verified: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def keys(self, *, stale_kid: bool = False) -> jwk.JWKSet:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            fresh = self._keys is not None and age < self.settings.jwks_max_age_seconds
            if fresh and not (stale_kid and age >= self.settings.jwks_min_refresh_seconds):
                return self._keys  # type: ignore[return-value]
            reason = "first" if self._keys is None else "unknown_kid" if fresh else "max_age"
            JWKS_FETCHES.labels(reason).inc()
            try:
                body = await self.keycloak.a_certs()
            except KeycloakError as exc:
                if self._keys is not None:
                    return self._keys  # keep serving with what we know
                raise ProviderUnavailable(str(exc)) from exc
            key_set = jwk.JWKSet()
            for key in body.get("keys", []):
                if key.get("use", "sig") == "sig":
                    key_set.add(jwk.JWK(**key))
            self._keys, self._fetched_at = key_set, time.monotonic()
            return key_set

    async def _decode(self, token: str, key_set: jwk.JWKSet) -> dict[str, Any]:
        # a_decode_token does no I/O when given the key; algs pins RS256 so a token
        # cannot pick "none" or an HMAC keyed with our public key.
        return await self.keycloak.a_decode_token(
            token,
            key=key_set,
            algs=["RS256"],
            leeway=self.settings.token_leeway_seconds,
            check_claims={
                "exp": None,
                "iss": self.settings.issuer(),
                "aud": self.settings.keycloak_client_id,
                "typ": "Bearer",
            },
        )

    async def verify(self, token: str) -> dict[str, Any]:
        """Claims of a valid access token of our realm and client; raises InvalidToken."""
        known = self._verified.get(token)
        if known is not None:
            expires, claims = known
            if time.time() < expires:
                self._verified.move_to_end(token)
                return dict(claims)
            del self._verified[token]
        try:
            try:
                claims = await self._decode(token, await self.keys())
            except JWTMissingKey:
                claims = await self._decode(token, await self.keys(stale_kid=True))
        except (JWException, ValueError, TypeError, KeyError, IndexError) as exc:
            raise InvalidToken(type(exc).__name__) from exc
        expires = claims.get("exp")
        if isinstance(expires, int | float):
            self._verified[token] = (expires + self.settings.token_leeway_seconds, dict(claims))
            while len(self._verified) > VERIFIED_KEPT:
                self._verified.popitem(last=False)
        return claims

    async def close(self) -> None:
        await self.keycloak.connection.aclose()

    async def password_grant(self, username: str, password: str) -> dict[str, Any]:
        return await self.keycloak.a_token(username=username, password=password)

    async def refresh_grant(self, refresh_token: str) -> dict[str, Any]:
        return await self.keycloak.a_refresh_token(refresh_token)

    async def logout(self, refresh_token: str) -> None:
        """Keycloak's logout endpoint (the local provider serves it too): 204, or raises."""
        await self.keycloak.a_logout(refresh_token)
