"""RS256 signing keys and JWTs of the local OpenID provider (jwcrypto, no I/O).

Private keys are kept as PEM, encrypted with ``CCHC_SIGNING_KEY_PASSPHRASE`` when it
is set: a copy of the database alone then does not let anyone mint tokens.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jwcrypto import jwk, jwt


def new_private_pem(passphrase: str | None = None) -> tuple[str, str]:
    """A fresh 2048-bit RSA key as (kid, PEM); the kid is its RFC 7638 thumbprint."""
    key = jwk.JWK.generate(kty="RSA", size=2048)
    secret = passphrase.encode() if passphrase else None
    return key.thumbprint(), key.export_to_pem(private_key=True, password=secret).decode()


@lru_cache(maxsize=16)
def _private_key(kid: str, pem: str, passphrase: str | None) -> jwk.JWK:
    # Keys stored before a passphrase was set stay readable; new ones are encrypted.
    encrypted = passphrase is not None and "ENCRYPTED" in pem.split("\n", 1)[0]
    key = jwk.JWK.from_pem(pem.encode(), password=passphrase.encode() if encrypted else None)
    key.update({"kid": kid, "use": "sig", "alg": "RS256"})  # type: ignore[call-arg]
    return key


def public_jwk(kid: str, pem: str, passphrase: str | None = None) -> dict[str, Any]:
    public = json.loads(_private_key(kid, pem, passphrase).export_public())
    return {**public, "kid": kid, "use": "sig", "alg": "RS256"}


def sign(claims: dict[str, Any], kid: str, pem: str, passphrase: str | None = None) -> str:
    token = jwt.JWT(header={"alg": "RS256", "typ": "JWT", "kid": kid}, claims=claims)
    token.make_signed_token(_private_key(kid, pem, passphrase))
    return token.serialize()


def verify(token: str, keys: dict[str, str], *, issuer: str, audience: str, typ: str,
           passphrase: str | None = None) -> dict[str, Any]:
    """Claims of a token signed by one of ``keys`` (kid -> PEM); raises on anything wrong."""
    key_set = jwk.JWKSet()
    for kid, pem in keys.items():
        key_set.add(jwk.JWK(**public_jwk(kid, pem, passphrase)))
    checked = jwt.JWT(
        jwt=token,
        key=key_set,
        algs=["RS256"],
        check_claims={"exp": None, "iss": issuer, "aud": audience, "typ": typ},
    )
    return json.loads(checked.claims)
