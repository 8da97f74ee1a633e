"""Identity rules on plain data: roles, passwords, lockout, token claims."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.common.contracts import ROLES

# Passwords people choose get argon2-cffi's default cost (RFC 9106 low-memory profile).
_chosen = PasswordHasher()
# Issued passwords are 14 random characters (about 82 bits): no hash cost makes them
# easier to guess, so they get OWASP's minimum argon2id cost (19 MiB, t=2), which lets
# a province issue hundreds of accounts in one call. They must be changed at first
# sign-in, and the chosen one gets the full cost.
_issued = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)

# No look-alike characters: issued passwords are read off paper by civil servants.
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")

MIN_PASSWORD_LENGTH = 8


def issue_password(length: int = 14) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_password(password: str) -> str:
    return _chosen.hash(password)


def hash_issued_password(password: str) -> str:
    return _issued.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _chosen.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def unknown_roles(roles: list[str]) -> list[str]:
    return sorted(set(roles) - ROLES)


def password_problems(username: str, new_password: str, old_password: str | None) -> list[str]:
    """Why a new password is refused, in Vietnamese with the English beside it."""
    problems = []
    if len(new_password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự / "
                        f"at least {MIN_PASSWORD_LENGTH} characters")
    if old_password is not None and new_password == old_password:
        problems.append("Mật khẩu mới phải khác mật khẩu cũ / must differ from the old one")
    if username.lower() in new_password.lower():
        problems.append("Mật khẩu không được chứa tên đăng nhập / must not contain the username")
    return problems


# --- Lockout ------------------------------------------------------------------------

@dataclass(frozen=True)
class LockoutPolicy:
    failures: int
    window: timedelta
    lock_for: timedelta


@dataclass
class Throttle:
    """Failed sign-ins of one username in the current window."""

    failures: int
    window_started_at: datetime
    locked_until: datetime | None


def retry_after(throttle: Throttle | None, now: datetime) -> int:
    """Whole seconds until the name may try again; 0 when it may now."""
    if throttle is None or throttle.locked_until is None or throttle.locked_until <= now:
        return 0
    return max(1, int((throttle.locked_until - now).total_seconds() + 0.999))


def after_failure(throttle: Throttle | None, now: datetime, policy: LockoutPolicy) -> Throttle:
    """Count one failure; the count restarts when the window has passed or a lock ended."""
    if (
        throttle is None
        or now - throttle.window_started_at >= policy.window
        or (throttle.locked_until is not None and throttle.locked_until <= now)
    ):
        throttle = Throttle(failures=0, window_started_at=now, locked_until=None)
    failures = throttle.failures + 1
    locked_until = now + policy.lock_for if failures >= policy.failures else None
    return Throttle(failures, throttle.window_started_at, locked_until)


# --- Tokens --------------------------------------------------------------------------

def access_claims(
    user: dict[str, Any], *, issuer: str, client_id: str, now: int, lifetime: int, sid: str
) -> dict[str, Any]:
    """The claims Keycloak puts in an access token, with the realm's mapped attributes."""
    return {
        "exp": now + lifetime,
        "iat": now,
        "jti": secrets.token_hex(16),
        "iss": issuer,
        "aud": client_id,
        "sub": user["username"],
        "typ": "Bearer",
        "azp": client_id,
        "sid": sid,
        "scope": "openid profile email",
        "realm_access": {"roles": sorted(user["roles"])},
        "preferred_username": user["username"],
        "name": user["full_name"],
        "email": user.get("email"),
        "unit_code": user.get("unit_code"),
        "department_code": user.get("department_code"),
        "must_change_password": bool(user.get("must_change_password")),
    }


def refresh_claims(
    username: str, *, issuer: str, client_id: str, now: int, lifetime: int, sid: str,
    credentials_version: str,
) -> dict[str, Any]:
    """Keycloak's refresh token: audience is the realm itself, type Refresh.

    ``cv`` names the password it was issued under; a changed password ends the session.
    """
    return {
        "cv": credentials_version,
        "exp": now + lifetime,
        "iat": now,
        "jti": secrets.token_hex(16),
        "iss": issuer,
        "aud": issuer,
        "sub": username,
        "typ": "Refresh",
        "azp": client_id,
        "sid": sid,
        "scope": "openid profile email",
    }


def userinfo(claims: dict[str, Any]) -> dict[str, Any]:
    keep = ("sub", "preferred_username", "name", "email", "unit_code", "department_code",
            "realm_access")
    return {k: claims[k] for k in keep if claims.get(k) is not None}


def credentials_version(changed_at: datetime | None) -> str:
    return changed_at.isoformat() if changed_at is not None else "issued"
