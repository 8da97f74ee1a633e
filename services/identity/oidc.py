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
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from eventlet import tpool
from jwcrypto.common import JWException
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Request, Response

from services.identity import signin, tokens
from services.identity.audit import audit
from services.identity.config import IdentitySettings
from services.identity.domain import (
    access_claims,
    credentials_version,
    hash_password,
    refresh_claims,
    userinfo,
    verify_password,
)
from services.identity.models import (
    RefreshToken,
    SigningKey,
    SignInSession,
    User,
    as_utc,
)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json({"error": error, "error_description": description}, status)


# --- Keys ------------------------------------------------------------------------------

def _encrypted(pem: str) -> bool:
    return "ENCRYPTED" in pem.split("\n", 1)[0]


def active_keys(session: Session, cfg: IdentitySettings) -> list[SigningKey]:
    """Keys not retired, newest first; creates the first one on a new installation.

    Outside development a key stored unencrypted is refused (whoever copied the
    database could mint tokens with it): it neither signs nor verifies, and a new
    encrypted key takes its place.
    """
    with session.begin():
        keys = list(session.scalars(
            select(SigningKey).where(SigningKey.retired_at.is_(None))
            .order_by(SigningKey.created_at.desc())
        ))
        if not cfg.development:
            keys = [k for k in keys if _encrypted(k.private_pem)]
        if not keys:
            keys = [_add_key(session, cfg)]
    return keys


def _add_key(session: Session, cfg: IdentitySettings) -> SigningKey:
    if not cfg.development and not cfg.signing_key_passphrase:
        raise RuntimeError("CCHC_SIGNING_KEY_PASSPHRASE must be set outside development")
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
        "end_session_endpoint": f"{base}/logout",
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


def _client_ok(cfg: IdentitySettings, form: Any) -> bool:
    """The gateway's client, with its secret; outside development a secret is required."""
    if form.get("client_id") != cfg.keycloak_client_id:
        return False
    if cfg.keycloak_client_secret is None:
        return cfg.development
    return secrets.compare_digest(form.get("client_secret", ""), cfg.keycloak_client_secret)


def token(session: Session, cfg: IdentitySettings, request: Request) -> Response:
    form = request.form
    if not _client_ok(cfg, form):
        return _oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
    grant = form.get("grant_type")
    if grant == "password":
        username = form.get("username", "").strip().lower()
        user = _password_grant(session, cfg, username, form.get("password", ""),
                               request.remote_addr)
        if user is None:
            return _oauth_error(401, "invalid_grant", "Invalid user credentials")
        return _json(_issue(session, cfg, user, _start_session(session, user.username)))
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

def logout(session: Session, cfg: IdentitySettings, request: Request) -> Response:
    """Keycloak's sign-out: the refresh token's session ends, every token of it dies."""
    form = request.form
    if not _client_ok(cfg, form):
        return _oauth_error(401, "invalid_client", "Invalid client or Invalid client credentials")
    claims = _refresh_claims(session, cfg, form.get("refresh_token", ""))
    if claims is None:
        return _oauth_error(400, "invalid_grant", "Invalid refresh token")
    with session.begin():
        family = session.get(SignInSession, str(claims.get("sid", "")), with_for_update=True)
        if family is not None and family.ended_at is None:
            family.ended_at, family.ended_by = datetime.now(UTC), "logout"
            audit(session, "signed_out", {"username": family.username}, family.username,
                  request.remote_addr)
    return Response(status=204, headers={"Cache-Control": "no-store"})


def _password_grant(session: Session, cfg: IdentitySettings, username: str, password: str,
                    ip: str | None) -> User | None:
    """The account, when the password is right; every failure counts towards the lock.

    Counted here, for whoever asks (the gateway or a client reaching this port), so
    the lockout has no side door.
    """
    # Refused while locked even when reached directly, not only through the gateway.
    if signin.seconds_locked(session, username):
        return None
    with session.begin():
        user = session.get(User, username)
    # An unknown name costs the same argon2 work, so timing does not tell who exists.
    # argon2 is C work of ~0.2 s; in a real thread the other workers keep running.
    password_hash = user.password_hash if user is not None else _decoy_hash()
    ok = bool(password) and tpool.execute(verify_password, password_hash, password)
    signin.record(session, username, bool(ok and user is not None), ip,
                  None if ok else "bad_credentials", signin.policy(cfg))
    if not ok or user is None:
        return None
    return user


def _start_session(session: Session, username: str) -> str:
    sid = secrets.token_hex(16)
    with session.begin():
        session.add(SignInSession(sid=sid, username=username, started_at=datetime.now(UTC)))
    return sid


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def _refresh_claims(session: Session, cfg: IdentitySettings,
                    refresh_token: str) -> dict[str, Any] | None:
    """Claims of a refresh token we signed for our client, used or not; None if forged."""
    try:
        claims = tokens.verify(refresh_token, _key_map(session, cfg), issuer=cfg.issuer(),
                               audience=cfg.issuer(), typ="Refresh",
                               passphrase=cfg.signing_key_passphrase)
    except (JWException, ValueError, TypeError, KeyError):
        return None
    return claims if claims.get("azp") == cfg.keycloak_client_id else None


def _refresh_grant(
    session: Session, cfg: IdentitySettings, refresh_token: str
) -> tuple[User, str] | None:
    """Rotation: a refresh token works once; presented again, its whole session ends.

    The session row is locked first, so two presentations of one token at once are
    serialised on PostgreSQL: one wins, the other finds it used and ends the family.
    """
    claims = _refresh_claims(session, cfg, refresh_token)
    if claims is None:
        return None
    now = datetime.now(UTC)
    with session.begin():
        family = session.get(SignInSession, str(claims.get("sid", "")), with_for_update=True)
        if family is None or family.ended_at is not None:
            return None
        issued = session.get(RefreshToken, str(claims.get("jti", "")), with_for_update=True)
        if issued is None or issued.used_at is not None:
            family.ended_at, family.ended_by = now, "reuse"
            audit(session, "refresh_token_reused", None, family.username, None,
                  sid=family.sid)
            return None
        issued.used_at = now
        user = session.get(User, claims.get("sub", ""))
        if user is None:
            return None
        if claims.get("cv") != credentials_version(as_utc(user.credentials_changed_at)):
            return None  # the password changed since: sessions opened before are over
    return user, family.sid


def purge_refresh_tokens(session: Session, cfg: IdentitySettings) -> None:
    """Forgets tokens past their lifetime: expired ones are refused by their exp anyway."""
    before = datetime.now(UTC) - timedelta(seconds=cfg.refresh_token_seconds + 60)
    with session.begin():
        session.execute(delete(RefreshToken).where(RefreshToken.issued_at < before))


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
    with session.begin():
        session.add(RefreshToken(jti=refresh["jti"], sid=sid,
                                 issued_at=datetime.fromtimestamp(now, UTC)))
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
