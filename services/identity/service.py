"""Identity service: units, people, roles, sign-in (người dùng, đơn vị, vai trò, đăng nhập)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from eventlet import tpool
from eventlet.greenpool import GreenPool
from nameko.rpc import rpc
from nameko.web.handlers import http
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Request, Response

from services.common.base import ServiceBase
from services.common.contracts import IDENTITY, USER_CREATED
from services.common.errors import DomainError, invalid, not_found
from services.common.outbox import record_event
from services.common.validation import parse
from services.identity import oidc
from services.identity.accounts import Accounts
from services.identity.config import identity_settings
from services.identity.domain import (
    LockoutPolicy,
    after_failure,
    hash_issued_password,
    hash_password,
    issue_password,
    password_problems,
    retry_after,
)
from services.identity.models import AuditEntry, SignInThrottle, Unit, User, throttle_state
from services.identity.schemas import RolesIn, UnitIn, UserIn, profile

# Issued passwords are hashed in real threads (argon2 releases the GIL), one per core:
# measured on 2 cores, 200 hashes take 4.7 s on one thread, 2.3 s on two, 3.2 s on four.
_HASH_THREADS = max(1, os.cpu_count() or 1)
# Keycloak mode: admin REST calls in flight at once during a bulk issuance.
_PROVISION_CONCURRENCY = 8
# The hash column of accounts whose password lives in Keycloak: matches no password.
PASSWORD_ELSEWHERE = "!keycloak"


def _actor_name(actor: dict[str, Any] | None) -> str | None:
    return (actor or {}).get("username")


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
    @rpc(expected_exceptions=DomainError)
    def create_user(
        self, user: dict[str, Any], password: str | None = None,
        actor: dict[str, Any] | None = None, ip: str | None = None,
    ) -> dict[str, Any]:
        return self._create([user], password, actor, ip)[0]

    @rpc(expected_exceptions=DomainError)
    def create_users(
        self, users: list[dict[str, Any]], actor: dict[str, Any] | None = None,
        ip: str | None = None,
    ) -> list[dict[str, Any]]:
        """Cấp tài khoản hàng loạt: all or nothing, each issued password returned once."""
        return self._create(users, None, actor, ip)

    def _create(
        self, users: list[dict[str, Any]], password: str | None,
        actor: dict[str, Any] | None, ip: str | None,
    ) -> list[dict[str, Any]]:
        if not isinstance(users, list) or not users:
            raise invalid("Danh sách tài khoản trống / no accounts given")
        rows = [parse(UserIn, u) for u in users]
        names = [r.username for r in rows]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DomainError("username_repeated",
                              f"Tên đăng nhập lặp lại / repeated usernames: {', '.join(repeated)}",
                              422, {"usernames": repeated})
        if password is not None:
            problems = password_problems(rows[0].username, password, None)
            if problems:
                raise invalid("; ".join(problems))
        issued = [password or issue_password() for _ in rows]
        must_change = password is None
        hashes = self._hashes(issued, chosen=not must_change)
        now = datetime.now(UTC)
        with self.db.begin():
            taken = sorted(self.db.scalars(select(User.username).where(User.username.in_(names))))
            if taken:
                raise DomainError(
                    "username_taken",
                    f"Tên đăng nhập đã có / username already exists: {', '.join(taken)}",
                    409, {"usernames": taken},
                )
            # Into the provider before our commit: a failure there leaves nothing here,
            # and provisioning again updates what did get through.
            list(GreenPool(_PROVISION_CONCURRENCY).imap(
                lambda pair: self.accounts.provision(pair[0].model_dump(), pair[1], must_change),
                zip(rows, issued, strict=True),
            ))
            # Rows first, in one flush; the outbox inserts that follow then flush nothing.
            self.db.add_all([
                User(**row.model_dump(), password_hash=pw_hash,
                     must_change_password=must_change, created_at=now)
                for row, pw_hash in zip(rows, hashes, strict=True)
            ])
            self.db.flush()
            for row in rows:
                record_event(self.db, USER_CREATED, row.model_dump(
                    include={"username", "full_name", "email", "zalo_phone", "roles",
                             "unit_code"}))
            for row in rows:
                self._audit("user_created", actor, row.username, ip,
                            roles=row.roles, unit_code=row.unit_code,
                            department_code=row.department_code)
        return [{"username": r.username, "initial_password": p}
                for r, p in zip(rows, issued, strict=True)]

    def _hashes(self, passwords: list[str], chosen: bool) -> list[str]:
        if not self.accounts.stores_passwords:
            return [PASSWORD_ELSEWHERE] * len(passwords)
        # A chosen password gets the full cost; issued ones the cheaper one (see domain).
        hasher = hash_password if chosen else hash_issued_password
        return list(GreenPool(_HASH_THREADS).imap(lambda p: tpool.execute(hasher, p), passwords))

    @rpc
    def ensure_admin(self, password: str | None = None) -> dict[str, Any]:
        """The first administrator, so a new installation can be signed into."""
        with self.db.begin():
            exists = self.db.get(User, "admin") is not None
        if exists:
            return {"username": "admin", "password": None, "created": False}
        issued = self.create_user(
            {"username": "admin", "full_name": "Quản trị hệ thống", "roles": ["admin"]},
            password=password or issue_password(),
        )
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
        wanted = parse(RolesIn, {"roles": roles}).roles
        with self.db.begin():
            user = self.db.get(User, username)
            if user is None:
                raise not_found("người dùng / user", username)
            before = list(user.roles)
            user.roles = sorted(set(wanted))
            self.accounts.set_roles(profile(user))
            self._audit("roles_changed", actor, username, ip, before=before, after=user.roles)
        return {"username": username, "roles": user.roles}

    @rpc(expected_exceptions=DomainError)
    def set_password(self, username: str, new_password: str, ip: str | None = None,
                     old_password: str | None = None) -> dict[str, Any]:
        """Đổi mật khẩu. The gateway has checked the old password with the provider."""
        problems = password_problems(username, new_password, old_password)
        if problems:
            raise DomainError("weak_password", "; ".join(problems), 422,
                              {"problems": problems})
        new_hash = self._hashes([new_password], chosen=True)[0]
        with self.db.begin():
            user = self.db.get(User, username)
            if user is None:
                raise not_found("người dùng / user", username)
            self.accounts.set_password(profile(user), new_password)
            was_issued = user.must_change_password
            user.password_hash = new_hash
            user.must_change_password = False
            user.credentials_changed_at = datetime.now(UTC)
            self._audit("password_changed", {"username": username}, username, ip,
                        first_change=was_issued)
        return {"username": username}

    # --- Sign-in and lockout -------------------------------------------------------------
    @rpc(expected_exceptions=DomainError)
    def sign_in_gate(self, username: str) -> None:
        with self.db.begin():
            row = self.db.get(SignInThrottle, username)
            wait = retry_after(throttle_state(row), datetime.now(UTC))
        if wait:
            raise _locked(wait)

    @rpc
    def record_sign_in(self, username: str, ok: bool, ip: str | None = None,
                       reason: str | None = None) -> dict[str, Any]:
        for attempt in range(2):
            try:
                return self._record_sign_in(username, ok, ip, reason)
            except IntegrityError:
                # Two replicas counted the first failure of a name at once; count again.
                self.db.rollback()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def _record_sign_in(self, username: str, ok: bool, ip: str | None,
                        reason: str | None) -> dict[str, Any]:
        cfg = identity_settings()
        policy = LockoutPolicy(cfg.lockout_failures, timedelta(seconds=cfg.lockout_window_seconds),
                               timedelta(seconds=cfg.lockout_seconds))
        now = datetime.now(UTC)
        with self.db.begin():
            row = self.db.get(SignInThrottle, username, with_for_update=True)
            if ok:
                if row is not None:
                    self.db.delete(row)
                self._audit("sign_in", {"username": username}, username, ip)
                return {"locked": False, "retry_after": 0}
            state = after_failure(throttle_state(row), now, policy)
            if row is None:
                row = SignInThrottle(username=username)
                self.db.add(row)
            row.failures = state.failures
            row.window_started_at = state.window_started_at
            row.locked_until = state.locked_until
            wait = retry_after(state, now)
            self._audit("sign_in_failed", None, username, ip, reason=reason or "bad_credentials",
                        failures=state.failures, locked=bool(wait))
        return {"locked": bool(wait), "retry_after": wait}

    # --- Audit -----------------------------------------------------------------------
    @rpc
    def audit_log(self, subject: str | None = None, action: str | None = None,
                  limit: int = 100) -> list[dict[str, Any]]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(max(1, min(limit, 1000)))
        if subject:
            query = query.where(AuditEntry.subject == subject)
        if action:
            query = query.where(AuditEntry.action == action)
        with self.db.begin():
            return [
                {"at": e.at.isoformat(), "action": e.action, "actor": e.actor,
                 "subject": e.subject, "ip": e.ip, "detail": e.detail}
                for e in self.db.scalars(query)
            ]

    def _audit(self, action: str, actor: dict[str, Any] | None, subject: str | None,
               ip: str | None, **detail: Any) -> None:
        self.db.add(AuditEntry(at=datetime.now(UTC), action=action, actor=_actor_name(actor),
                               subject=subject, ip=ip, detail=detail))

    # --- The local OpenID provider, on Keycloak's paths ----------------------------------
    @rpc
    def rotate_signing_key(self) -> dict[str, str]:
        return {"kid": oidc.rotate(self.db)}

    @http("GET", "/realms/<realm>/.well-known/openid-configuration")
    def oidc_discovery(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.discovery(identity_settings())

    @http("POST", "/realms/<realm>/protocol/openid-connect/token")
    def oidc_token(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.token(self.db, identity_settings(), request)

    @http("GET", "/realms/<realm>/protocol/openid-connect/certs")
    def oidc_certs(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.certs(self.db)

    @http("GET,POST", "/realms/<realm>/protocol/openid-connect/userinfo")
    def oidc_userinfo(self, request: Request, realm: str) -> Response:
        return _not_local(realm) or oidc.user_info(self.db, identity_settings(), request)


def _locked(wait: int) -> DomainError:
    return DomainError(
        "account_locked",
        f"Tài khoản tạm khoá do đăng nhập sai nhiều lần, thử lại sau {wait} giây / "
        f"too many failed sign-ins, try again in {wait} seconds",
        429, {"retry_after": wait},
    )
