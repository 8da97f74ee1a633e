"""identity: units, people, roles, sign-in (đơn vị, người dùng, vai trò, đăng nhập).

The identity service also serves, on its own HTTP port, Keycloak's OpenID paths under
/realms/{realm}/ (discovery, token, certs, userinfo) when CCHC_IDENTITY_PROVIDER=local.
"""

from __future__ import annotations

from typing import Any, NotRequired, Protocol, TypedDict

from services.common.contracts.shared import ServiceRpc, SignedActor


class Unit(TypedDict):
    """Đơn vị."""

    code: str
    name: str
    type: str
    parent_code: str | None


class UnitsUpserted(TypedDict):
    created: int
    updated: int


class NewUser(TypedDict):
    """An account to issue; the username is stored in lower case."""

    username: str
    full_name: str
    email: NotRequired[str | None]
    zalo_phone: NotRequired[str | None]
    roles: list[str]
    unit_code: NotRequired[str | None]
    department_code: NotRequired[str | None]


class Account(TypedDict):
    """Who someone is: what identity shows of an account and announces when it issues
    one (events.UserCreated)."""

    username: str
    full_name: str
    email: str | None
    zalo_phone: str | None
    roles: list[str]
    unit_code: str | None


class User(Account):
    """An account as the gateway shows it (never the password hash)."""

    department_code: str | None
    must_change_password: bool


class IssuedAccount(TypedDict):
    """The issued password, returned once and stored only hashed."""

    username: str
    initial_password: str


class FirstAdmin(TypedDict):
    username: str
    password: str | None
    created: bool


class RolesSet(TypedDict):
    username: str
    roles: list[str]


class PasswordSet(TypedDict):
    username: str


class SignInOutcome(TypedDict):
    locked: bool
    retry_after: int


class SigningKey(TypedDict):
    kid: str


class AuditEntry(TypedDict):
    at: str
    action: str
    actor: str | None
    subject: str | None
    ip: str | None
    detail: dict[str, Any]


class IdentityRpc(ServiceRpc, Protocol):
    # --- Units ---------------------------------------------------------------------
    def upsert_units(self, units: list[Unit]) -> UnitsUpserted:
        """Creates or renames units by code."""
        ...

    def list_units(self, type: str | None = None) -> list[Unit]:
        ...

    # --- Accounts --------------------------------------------------------------------
    # Privileged calls act only for an admin whose actor the gateway signed
    # (services/common/actor.py): an actor dictionary alone proves nothing on the bus.
    def create_user(self, user: NewUser, password: str | None = None,
                    actor: SignedActor | None = None, ip: str | None = None) -> IssuedAccount:
        """One account (admin); 409 ``username_taken``."""
        ...

    def create_users(self, users: list[NewUser], actor: SignedActor | None = None,
                     ip: str | None = None) -> list[IssuedAccount]:
        """Cấp tài khoản hàng loạt: all or nothing; 409 ``username_taken`` lists the taken
        (``usernames``), 422 ``username_repeated``."""
        ...

    def ensure_admin(self, password: str | None = None) -> FirstAdmin:
        """The first administrator, so a new installation can be signed into; a generated
        password is printed once and must be changed at the first sign-in."""
        ...

    def get_user(self, username: str) -> User:
        """404 when there is no such account."""
        ...

    def list_users(self, unit_code: str | None = None, role: str | None = None,
                   department_code: str | None = None) -> list[User]:
        """Accounts, optionally of one unit, one role, one appraising department (e.g. a
        unit's leaders, to notify them)."""
        ...

    def set_roles(self, username: str, roles: list[str], actor: SignedActor | None = None,
                  ip: str | None = None) -> RolesSet:
        """Admin only."""
        ...

    def set_password(self, username: str, new_password: str, ip: str | None = None,
                     old_password: str | None = None) -> PasswordSet:
        """Đổi mật khẩu. The caller checked the old one with the provider; 422
        ``weak_password``."""
        ...

    # --- Sign-in and lockout -------------------------------------------------------------
    def sign_in_gate(self, username: str) -> None:
        """Raises DomainError 429 ``account_locked`` {retry_after} while locked."""
        ...

    def record_sign_in(self, username: str, ok: bool, ip: str | None = None,
                       reason: str | None = None) -> SignInOutcome:
        ...

    # --- Audit and keys --------------------------------------------------------------
    def audit_log(self, subject: str | None = None, action: str | None = None,
                  limit: int = 100) -> list[AuditEntry]:
        """Newest first; at most 1,000 lines."""
        ...

    def rotate_signing_key(self) -> SigningKey:
        """A new RS256 key for the local provider (local provider only)."""
        ...
