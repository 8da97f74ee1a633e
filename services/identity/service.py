"""Identity service: units, people, roles, sign-in (người dùng, đơn vị, vai trò, đăng nhập)."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc
from nameko.timer import timer
from nameko.web.handlers import http
from sqlalchemy import select
from werkzeug.wrappers import Request, Response

from services.common.actor import verified_actor
from services.common.base import ServiceBase
from services.common.contracts import IDENTITY
from services.common.errors import DomainError, not_found
from services.common.validation import parse
from services.identity import audit, issuance, oidc, signin
from services.identity.accounts import Accounts
from services.identity.config import identity_settings
from services.identity.domain import issue_password
from services.identity.models import Unit, User
from services.identity.schemas import RolesIn, UnitIn, profile

ADMIN = ("admin",)


def _not_local(realm: str) -> Response | None:
    cfg = identity_settings()
    if cfg.identity_provider != "local" or realm != cfg.keycloak_realm:
        return Response('{"error":"Realm does not exist"}', status=404,
                        mimetype="application/json")
    return None


class Service(ServiceBase):
    name = IDENTITY

    accounts = Accounts()

    # --- Units ---------------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def upsert_units(self, units: list[dict[str, Any]]) -> dict[str, int]:
        rows = [parse(UnitIn, u) for u in units]
        created = updated = 0
        with self.db.begin():
            for row in rows:
                unit = self.db.get(Unit, row.code)
                if unit is None:
                    self.db.add(Unit(**row.model_dump()))
                    created += 1
                else:
                    unit.name, unit.type, unit.parent_code = row.name, row.type, row.parent_code
                    updated += 1
        return {"created": created, "updated": updated}

    @rpc
    def list_units(self, type: str | None = None) -> list[dict[str, Any]]:
        query = select(Unit).order_by(Unit.code)
        if type:
            query = query.where(Unit.type == type)
        return [
            {"code": u.code, "name": u.name, "type": u.type, "parent_code": u.parent_code}
            for u in self.db.scalars(query)
        ]

    # --- Accounts --------------------------------------------------------------------
    # Privileged calls act only for an admin whose actor the gateway signed
    # (services/common/actor.py): an actor dictionary alone proves nothing on the bus.
    @rpc(expected_exceptions=DomainError)
    def create_user(
        self, user: dict[str, Any], password: str | None = None,
        actor: dict[str, Any] | None = None, ip: str | None = None,
    ) -> dict[str, Any]:
        admin = verified_actor(actor, roles=ADMIN)
        return issuance.issue(self.db, self.accounts, [user], password, admin, ip)[0]

    @rpc(expected_exceptions=DomainError)
    def create_users(
        self, users: list[dict[str, Any]], actor: dict[str, Any] | None = None,
        ip: str | None = None,
    ) -> list[dict[str, Any]]:
        """Cấp tài khoản hàng loạt: all or nothing, each issued password returned once."""
        admin = verified_actor(actor, roles=ADMIN)
        return issuance.issue(self.db, self.accounts, users, None, admin, ip)

    @rpc
    def ensure_admin(self, password: str | None = None) -> dict[str, Any]:
        """The first administrator, so a new installation can be signed into.

        A generated password is printed once and must be changed at the first
        sign-in, like any issued one; a password the operator chose need not.
        """
        with self.db.begin():
            exists = self.db.get(User, "admin") is not None
        if exists:
            return {"username": "admin", "password": None, "created": False}
        issued = issuance.issue(
            self.db, self.accounts,
            [{"username": "admin", "full_name": "Quản trị hệ thống", "roles": ["admin"]}],
            password or issue_password(), {"username": "system"}, None,
            must_change=password is None,
        )[0]
        return {"username": "admin", "password": issued["initial_password"], "created": True}

    @rpc(expected_exceptions=DomainError)
    def get_user(self, username: str) -> dict[str, Any]:
        with self.db.begin():
            user = self.db.get(User, username)
            if user is None:
                raise not_found("người dùng / user", username)
            return profile(user)

    @rpc
    def list_users(self, unit_code: str | None = None, role: str | None = None,
                   department_code: str | None = None) -> list[dict[str, Any]]:
        """Accounts, optionally of one unit, one role, one appraising department."""
        query = select(User).order_by(User.username)
        if unit_code:
            query = query.where(User.unit_code == unit_code)
        if department_code:
            query = query.where(User.department_code == department_code)
        with self.db.begin():
            users = [profile(u) for u in self.db.scalars(query)]
        # Roles are a JSON list: filtered here, the same on SQLite and PostgreSQL.
        return [u for u in users if role is None or role in u["roles"]]

    @rpc(expected_exceptions=DomainError)
    def set_roles(
        self, username: str, roles: list[str], actor: dict[str, Any] | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        actor = verified_actor(actor, roles=ADMIN)
        wanted = parse(RolesIn, {"roles": roles}).roles
        with self.db.begin():
            user = self.db.get(User, username)
            if user is None:
                raise not_found("người dùng / user", username)
            before = list(user.roles)
            user.roles = sorted(set(wanted))
            self.accounts.set_roles(profile(user))
            audit.audit(self.db, "roles_changed", actor, username, ip, before=before,
                        after=user.roles)
        return {"username": username, "roles": user.roles}

    @rpc(expected_exceptions=DomainError)
    def set_password(self, username: str, new_password: str, ip: str | None = None,
                     old_password: str | None = None) -> dict[str, Any]:
        """Đổi mật khẩu. The gateway has checked the old password with the provider."""
        return issuance.change_password(self.db, self.accounts, username, new_password, ip,
                                        old_password)

    # --- Sign-in and lockout -------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def sign_in_gate(self, username: str) -> None:
        signin.gate(self.db, username)

    @rpc
    def record_sign_in(self, username: str, ok: bool, ip: str | None = None,
                       reason: str | None = None) -> dict[str, Any]:
        return signin.record(self.db, username, ok, ip, reason,
                             signin.policy(identity_settings()))

    @timer(interval=600)
    def purge_sign_in_counts(self) -> None:
        cfg = identity_settings()
        signin.purge(self.db, signin.policy(cfg))
        oidc.purge_refresh_tokens(self.db, cfg)

    # --- Audit -----------------------------------------------------------------------
    @rpc
    def audit_log(self, subject: str | None = None, action: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
        return audit.entries(self.db, subject, action, limit)

    # --- The local OpenID provider, on Keycloak's paths ----------------------------------
    @rpc
    def rotate_signing_key(self) -> dict[str, str]:
        return {"kid": oidc.rotate(self.db, identity_settings())}

    @http("GET", "/realms/<realm>/.well-known/openid-configuration")
    def oidc_discovery(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.discovery(identity_settings())

    @http("POST", "/realms/<realm>/protocol/openid-connect/token")
    def oidc_token(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.token(self.db, identity_settings(), request)

    @http("POST", "/realms/<realm>/protocol/openid-connect/logout")
    def oidc_logout(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.logout(self.db, identity_settings(), request)

    @http("GET", "/realms/<realm>/protocol/openid-connect/certs")
    def oidc_certs(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.certs(self.db, identity_settings())

    @http("GET,POST", "/realms/<realm>/protocol/openid-connect/userinfo")
    def oidc_userinfo(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.user_info(self.db, identity_settings(), request)
