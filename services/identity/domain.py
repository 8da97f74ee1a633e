"""Identity rules on plain data: roles, issued passwords, password hashing."""

from __future__ import annotations

import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

ROLES = frozenset({"admin", "unit_leader", "unit_staff", "appraiser", "viewer"})

_hasher = PasswordHasher()
# No look-alike characters: issued passwords are read off paper by civil servants.
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")


def issue_password(length: int = 14) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerificationError:
        return False


def unknown_roles(roles: list[str]) -> list[str]:
    return sorted(set(roles) - ROLES)
