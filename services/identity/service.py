"""Identity service: units, people, roles (người dùng, đơn vị, vai trò)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import select

from services.common.base import ServiceBase
from services.common.contracts import IDENTITY, USER_CREATED
from services.common.errors import DomainError
from services.common.outbox import record_event
from services.common.validation import parse
from services.identity.domain import hash_password, issue_password
from services.identity.models import Unit, User
from services.identity.schemas import UnitIn, UserIn


class Service(ServiceBase):
    name = IDENTITY

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

    @rpc(expected_exceptions=DomainError)
    def create_user(self, user: dict[str, Any], password: str | None = None) -> dict[str, Any]:
        data = parse(UserIn, user)
        initial = password or issue_password()
        with self.db.begin():
            if self.db.get(User, data.username) is not None:
                raise DomainError(
                    "username_taken",
                    f"Tên đăng nhập đã có / username already exists: {data.username}",
                    409,
                )
            self.db.add(
                User(
                    **data.model_dump(),
                    password_hash=hash_password(initial),
                    must_change_password=password is None,
                    created_at=datetime.now(UTC),
                )
            )
            record_event(
                self.db,
                USER_CREATED,
                data.model_dump(include={"username", "full_name", "email", "zalo_phone",
                                         "roles", "unit_code"}),
            )
        return {"username": data.username, "initial_password": initial}

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
