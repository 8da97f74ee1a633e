"""The local OpenID provider: Keycloak's discovery, token, certs and userinfo answers.

It speaks Keycloak's paths and response shapes so that the gateway's client code
(python-keycloak's ``KeycloakOpenID``) is the same whether a province runs Keycloak
or not. Errors are Keycloak's too: a bad password is 401 ``invalid_grant``
"Invalid user credentials", a bad refresh token 400 ``invalid_grant``.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from eventlet import tpool
from jwcrypto.common import JWException
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Request, Response

from services.identity import signin, tokens
from services.identity.config import IdentitySettings
from services.identity.domain import (
    access_claims,
    credentials_version,
    hash_password,
    refresh_claims,
    userinfo,
    verify_password,
)
from services.identity.models import SigningKey, User, as_utc


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json({"error": error, "error_description": description}, status)


# --- Keys ------------------------------------------------------------------------------

def active_keys(session: Session, cfg: IdentitySettings) -> list[SigningKey]:
    """Keys not retired, newest first; creates the first one on a new installation."""
    with session.begin():
        keys = list(session.scalars(
            select(SigningKey).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
        ))
        if not keys:
            keys = [_add_key(session, cfg)]
    return keys


def _add_key(session: Session, cfg: IdentitySettings) -> SigningKey:
    kid, pem = tokens.new_private_pem(cfg.signing_key_passphrase)
    key = SigningKey(kid=kid, private_pem=pem, created_at=datetime.now(UTC))
    session.add(key)
    return key


def rotate(session: Session, cfg: IdentitySettings) -> str:
    """A new key signs from now on; the older ones still verify the tokens they signed."""
    with session.begin():
        key = _add_key(session, cfg)
    return key.kid


# --- Endpoints --------------------------------------------------------------------------

def discovery(cfg: IdentitySettings) -> Response:
    issuer = cfg.issuer()
    base = f"{issuer}/protocol/openid-connect"
    return _json({
        "issuer": issuer,
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/certs",
        "userinfo_endpoint": f"{base}/userinfo",
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post"],
        "claims_supported": ["sub", "preferred_username", "name", "email", "unit_code",
                             "department_code", "realm_access"],
    })


def certs(session: Session, cfg: IdentitySettings) -> Response:
    return _json({"keys": [tokens.public_jwk(k.kid, k.private_pem, cfg.signing_key_passphrase)
                           for k in active_keys(session, cfg)]})


def token(session: Session, cfg: IdentitySettings, request: Request) -> Response:
    form = request.form
    if form.get("client_id") != cfg.keycloak_client_id or (
        cfg.keycloak_client_secret is not None
        and not secrets.compare_digest(form.get("client_secret", ""), cfg.keycloak_client_secret)
    ):
        return _oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
    grant = form.get("grant_type")
    if grant == "password":
        user = _password_grant(session, form.get("username", "").strip().lower(),
                               form.get("password", ""))
        if user is None:
            return _oauth_error(401, "invalid_grant", "Invalid user credentials")
        return _json(_issue(session, cfg, user, secrets.token_hex(16)))
    if grant == "refresh_token":
        found = _refresh_grant(session, cfg, form.get("refresh_token", ""))
        if found is None:
            return _oauth_error(400, "invalid_grant", "Invalid refresh token")
        user, sid = found
        return _json(_issue(session, cfg, user, sid))
    return _oauth_error(400, "unsupported_grant_type", f"Unsupported grant_type {grant!r}")


def user_info(session: Session, cfg: IdentitySettings, request: Request) -> Response:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return _oauth_error(401, "invalid_token", "Missing bearer token")
    try:
        claims = tokens.verify(header[7:].strip(), _key_map(session, cfg), issuer=cfg.issuer(),
                               audience=cfg.keycloak_client_id, typ="Bearer",
                               passphrase=cfg.signing_key_passphrase)
    except (JWException, ValueError, TypeError, KeyError):
        return _oauth_error(401, "invalid_token", "Token verification failed")
    return _json(userinfo(claims))


# --- Grants ----------------------------------------------------------------------------

def _password_grant(session: Session, username: str, password: str) -> User | None:
    # Refused while locked even when reached directly, not only through the gateway.
    if not password or signin.seconds_locked(session, username):
        return None
    with session.begin():
        user = session.get(User, username)
    # An unknown name costs the same argon2 work, so timing does not tell who exists.
    # argon2 is C work of ~0.2 s; in a real thread the other workers keep running.
    password_hash = user.password_hash if user is not None else _decoy_hash()
    if not tpool.execute(verify_password, password_hash, password) or user is None:
        return None
    return user


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _refresh_grant(
    session: Session, cfg: IdentitySettings, refresh_token: str
) -> tuple[User, str] | None:
    try:
        claims = tokens.verify(refresh_token, _key_map(session, cfg), issuer=cfg.issuer(),
                               audience=cfg.issuer(), typ="Refresh",
                               passphrase=cfg.signing_key_passphrase)
    except (JWException, ValueError, TypeError, KeyError):
        return None
    if claims.get("azp") != cfg.keycloak_client_id:
        return None
    with session.begin():
        user = session.get(User, claims.get("sub", ""))
    if user is None:
        return None
    if claims.get("cv") != credentials_version(as_utc(user.credentials_changed_at)):
        return None  # the password changed since: sessions opened before are over
    return user, str(claims["sid"])


def _key_map(session: Session, cfg: IdentitySettings) -> dict[str, str]:
    return {k.kid: k.private_pem for k in active_keys(session, cfg)}


def _issue(session: Session, cfg: IdentitySettings, user: User, sid: str) -> dict[str, Any]:
    key = active_keys(session, cfg)[0]
    passphrase = cfg.signing_key_passphrase
    now = int(time.time())
    profile = {
        "username": user.username, "full_name": user.full_name, "email": user.email,
        "roles": user.roles, "unit_code": user.unit_code,
        "department_code": user.department_code,
        "must_change_password": user.must_change_password,
    }
    access = access_claims(profile, issuer=cfg.issuer(), client_id=cfg.keycloak_client_id,
                           now=now, lifetime=cfg.access_token_seconds, sid=sid)
    refresh = refresh_claims(user.username, issuer=cfg.issuer(),
                             client_id=cfg.keycloak_client_id, now=now,
                             lifetime=cfg.refresh_token_seconds, sid=sid,
                             credentials_version=credentials_version(
                                 as_utc(user.credentials_changed_at)))
    return {
        "access_token": tokens.sign(access, key.kid, key.private_pem, passphrase),
        "expires_in": cfg.access_token_seconds,
        "refresh_expires_in": cfg.refresh_token_seconds,
        "refresh_token": tokens.sign(refresh, key.kid, key.private_pem, passphrase),
        "token_type": "Bearer",
        "not-before-policy": 0,
        "session_state": sid,
        "scope": "openid profile email",
    }
