"""Cấp tài khoản: issuing accounts one by one or in bulk, and changing passwords."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

from eventlet import tpool
from eventlet.greenpool import GreenPool
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.common.contracts import USER_CREATED
from services.common.errors import DomainError, invalid, not_found
from services.common.outbox import record_event
from services.common.validation import parse
from services.identity.accounts import AccountStore
from services.identity.audit import audit
from services.identity.domain import (
    hash_issued_password,
    hash_password,
    issue_password,
    password_problems,
)
from services.identity.models import User
from services.identity.schemas import UserIn, profile

# Passwords are hashed in real threads (argon2 releases the GIL), one per core:
# measured on 2 cores, 200 issued hashes take 4.7 s on one thread, 2.3 s on two, 3.2 s
# on four.
_HASH_THREADS = max(1, os.cpu_count() or 1)
# Keycloak mode: admin REST calls in flight at once during a bulk issuance.
_PROVISION_CONCURRENCY = 8
# The hash column of accounts whose password lives in Keycloak: matches no password.
PASSWORD_ELSEWHERE = "!keycloak"


def hashes(store: AccountStore, passwords: list[str], chosen: bool) -> list[str]:
    if not store.stores_passwords:
        return [PASSWORD_ELSEWHERE] * len(passwords)
    # A chosen password gets the full cost; issued ones the cheaper one (see domain).
    hasher = hash_password if chosen else hash_issued_password
    return list(GreenPool(_HASH_THREADS).imap(lambda p: tpool.execute(hasher, p), passwords))


def issue(
    session: Session, store: AccountStore, users: list[dict[str, Any]], password: str | None,
    actor: dict[str, Any] | None, ip: str | None, *, must_change: bool | None = None,
) -> list[dict[str, Any]]:
    """All or nothing; each issued password is returned once and stored only hashed.

    With ``password`` the account gets that password and need not change it (demo
    accounts, a first administrator whose password the operator chose); otherwise each
    gets a random one to change. ``must_change`` overrides that (a generated password
    handed over as ``password``).
    """
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
    if must_change is None:
        must_change = password is None
    hashed = hashes(store, issued, chosen=not must_change)
    now = datetime.now(UTC)
    with session.begin():
        taken = sorted(session.scalars(select(User.username).where(User.username.in_(names))))
        if taken:
            raise DomainError(
                "username_taken",
                f"Tên đăng nhập đã có / username already exists: {', '.join(taken)}",
                409, {"usernames": taken},
            )
        # Into the provider before our commit: a failure there leaves nothing here, and
        # provisioning again updates what did get through.
        list(GreenPool(_PROVISION_CONCURRENCY).imap(
            lambda pair: store.provision(pair[0].model_dump(), pair[1], must_change),
            zip(rows, issued, strict=True),
        ))
        # Rows first, in one flush; the outbox inserts that follow then flush nothing.
        session.add_all([
            User(**row.model_dump(), password_hash=pw_hash, must_change_password=must_change,
                 created_at=now)
            for row, pw_hash in zip(rows, hashed, strict=True)
        ])
        session.flush()
        for row in rows:
            record_event(session, USER_CREATED, row.model_dump(
                include={"username", "full_name", "email", "zalo_phone", "roles", "unit_code"}))
        for row in rows:
            audit(session, "user_created", actor, row.username, ip, roles=row.roles,
                  unit_code=row.unit_code, department_code=row.department_code)
    return [{"username": r.username, "initial_password": p}
            for r, p in zip(rows, issued, strict=True)]


def change_password(session: Session, store: AccountStore, username: str, new_password: str,
                    ip: str | None, old_password: str | None) -> dict[str, Any]:
    problems = password_problems(username, new_password, old_password)
    if problems:
        raise DomainError("weak_password", "; ".join(problems), 422, {"problems": problems})
    new_hash = hashes(store, [new_password], chosen=True)[0]
    with session.begin():
        user = session.get(User, username)
        if user is None:
            raise not_found("người dùng / user", username)
        store.set_password(profile(user), new_password)
        was_issued = user.must_change_password
        user.password_hash = new_hash
        user.must_change_password = False
        user.credentials_changed_at = datetime.now(UTC)
        audit(session, "password_changed", {"username": username}, username, ip,
              first_change=was_issued)
    return {"username": username}
