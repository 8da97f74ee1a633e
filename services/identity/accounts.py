"""Where accounts live besides our own table: nowhere (local) or a Keycloak realm.

In local mode the identity database is the account store and this service is the
OpenID provider. In keycloak mode the realm is where people sign in: every account,
its password, realm roles and the ``unit_code`` / ``department_code`` /
``must_change_password`` attributes (mapped into tokens by the shipped realm) are
provisioned through Keycloak's admin REST API with ``KeycloakAdmin``. Provisioning is
idempotent (an existing user is updated), so a bulk issuance that failed half-way can
simply be sent again.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError
from nameko.extensions import DependencyProvider

from services.common.actor import actor_secret
from services.common.contracts import ROLES
from services.common.errors import DomainError
from services.identity.config import IdentitySettings, identity_settings


class AccountStore(Protocol):
    # True when passwords are checked against our own hashes (local provider).
    stores_passwords: bool

    def provision(self, user: dict[str, Any], password: str, must_change: bool) -> None: ...

    def set_password(self, user: dict[str, Any], password: str) -> None: ...

    def set_roles(self, user: dict[str, Any]) -> None: ...


class LocalAccounts:
    """The identity database is the store: nothing to do elsewhere."""

    stores_passwords = True

    def provision(self, user: dict[str, Any], password: str, must_change: bool) -> None:
        pass

    def set_password(self, user: dict[str, Any], password: str) -> None:
        pass

    def set_roles(self, user: dict[str, Any]) -> None:
        pass


def _attributes(user: dict[str, Any], must_change: bool) -> dict[str, list[str]]:
    attributes = {"must_change_password": ["true" if must_change else "false"]}
    for name in ("unit_code", "department_code", "zalo_phone"):
        if user.get(name):
            attributes[name] = [str(user[name])]
    return attributes


def representation(user: dict[str, Any], must_change: bool) -> dict[str, Any]:
    """A Keycloak UserRepresentation of one of our accounts.

    The whole Vietnamese name goes in firstName: family name first, Keycloak's
    "given family" order would turn it around; the shipped user profile does not
    require lastName.
    """
    body: dict[str, Any] = {
        "username": user["username"],
        "enabled": True,
        "firstName": user["full_name"],
        "attributes": _attributes(user, must_change),
    }
    if user.get("email"):
        body["email"] = user["email"]
        body["emailVerified"] = False
    return body


class KeycloakAccounts:
    stores_passwords = False

    def __init__(self, admin: KeycloakAdmin) -> None:
        self.admin = admin

    def provision(self, user: dict[str, Any], password: str, must_change: bool) -> None:
        with _provider_errors():
            user_id = self.admin.create_user(representation(user, must_change), exist_ok=True)
            # exist_ok returns an existing user untouched: bring it up to date.
            self.admin.update_user(user_id, representation(user, must_change))
            # Not Keycloak's "temporary" flag: that makes the password grant fail with
            # "Account is not fully set up"; the attribute lets the person sign in and
            # the gateway then allows only the password change.
            self.admin.set_user_password(user_id, password, temporary=False)
            self._sync_roles(user_id, user["roles"])

    def set_password(self, user: dict[str, Any], password: str) -> None:
        with _provider_errors():
            user_id = self._id(user["username"])
            self.admin.set_user_password(user_id, password, temporary=False)
            self.admin.update_user(user_id, representation(user, must_change=False))

    def set_roles(self, user: dict[str, Any]) -> None:
        with _provider_errors():
            self._sync_roles(self._id(user["username"]), user["roles"])

    def _id(self, username: str) -> str:
        user_id = self.admin.get_user_id(username)
        if user_id is None:
            raise DomainError("not_in_realm",
                              f"Tài khoản {username} không có trong Keycloak / "
                              f"{username} is missing from the Keycloak realm", 409)
        return user_id

    def _sync_roles(self, user_id: str, wanted: list[str]) -> None:
        # Only our five roles are managed; Keycloak's own (offline_access, ...) stay.
        current = {r["name"] for r in self.admin.get_realm_roles_of_user(user_id)} & ROLES
        remove = [self.admin.get_realm_role(r) for r in sorted(current - set(wanted))]
        add = [self.admin.get_realm_role(r) for r in sorted(set(wanted) - current)]
        if remove:
            self.admin.delete_realm_roles_of_user(user_id, remove)
        if add:
            self.admin.assign_realm_roles(user_id, add)


@contextmanager
def _provider_errors() -> Iterator[None]:
    """Keycloak refusing or unreachable is a 502 for the caller, never a 500."""
    try:
        yield
    except KeycloakError as exc:
        raise DomainError(
            "identity_provider_error",
            "Keycloak từ chối hoặc không trả lời / Keycloak refused or did not answer: "
            f"{getattr(exc, 'response_code', '') or ''} {exc}".strip(),
            502,
        ) from exc


def keycloak_admin(cfg: IdentitySettings) -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=cfg.provider_url() + "/",
        username=cfg.keycloak_admin_username,
        password=cfg.keycloak_admin_password,
        realm_name=cfg.keycloak_realm,
        # A realm administrator signs in to its own realm (master); a service account
        # to the realm of its client.
        user_realm_name=cfg.keycloak_admin_realm if cfg.keycloak_admin_username
        else cfg.keycloak_realm,
        # Without a username, the confidential client's own service account is used.
        client_id="admin-cli" if cfg.keycloak_admin_username else cfg.keycloak_client_id,
        client_secret_key=None if cfg.keycloak_admin_username else cfg.keycloak_client_secret,
        timeout=30,
    )


class Accounts(DependencyProvider):
    """Hands workers the account store the configuration chose."""

    def setup(self) -> None:
        self.settings = identity_settings()
        # Outside development the service does not start on development defaults.
        problems = self.settings.production_problems()
        if problems:
            raise RuntimeError("identity refuses to start: " + "; ".join(problems))
        actor_secret()
        self._store: AccountStore | None = None

    def get_dependency(self, worker_ctx: Any) -> AccountStore:
        if self._store is None:
            if self.settings.identity_provider == "keycloak":
                self._store = KeycloakAccounts(keycloak_admin(self.settings))
            else:
                self._store = LocalAccounts()
        return self._store
