"""RS256 signing keys and JWTs of the local OpenID provider (jwcrypto, no I/O)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jwcrypto import jwk, jwt


def new_private_pem() -> tuple[str, str]:
    """A fresh 2048-bit RSA key as (kid, PEM); the kid is its RFC 7638 thumbprint."""
    key = jwk.JWK.generate(kty="RSA", size=2048)
    return key.thumbprint(), key.export_to_pem(private_key=True, password=None).decode()


@lru_cache(maxsize=16)
def _private_key(kid: str, pem: str) -> jwk.JWK:
    key = jwk.JWK.from_pem(pem.encode())
    key.update({"kid": kid, "use": "sig", "alg": "RS256"})  # type: ignore[call-arg]
    return key


def public_jwk(kid: str, pem: str) -> dict[str, Any]:
    public = json.loads(_private_key(kid, pem).export_public())
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def sign(claims: dict[str, Any], kid: str, pem: str) -> str:
    token = jwt.JWT(header={"alg": "RS256", "typ": "JWT", "kid": kid}, claims=claims)
    token.make_signed_token(_private_key(kid, pem))
    return token.serialize()


def verify(token: str, keys: dict[str, str], *, issuer: str, audience: str, typ: str
           ) -> dict[str, Any]:
    """Claims of a token signed by one of ``keys`` (kid -> PEM); raises on anything wrong."""
    key_set = jwk.JWKSet()
    for kid, pem in keys.items():
        key_set.add(jwk.JWK(**public_jwk(kid, pem)))
    checked = jwt.JWT(
        jwt=token,
        key=key_set,
        algs=["RS256"],
        check_claims={"exp": None, "iss": issuer, "aud": audience, "typ": typ},
    )
    return json.loads(checked.claims)
