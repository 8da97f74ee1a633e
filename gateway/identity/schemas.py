"""Bodies of the sign-in and people routes, as the OpenAPI document shows them.

The identity service validates again: it is the authority on what an account is.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from services.common.contracts import ROLES

# The five roles of the contracts, as an enum in the OpenAPI document.
Role = Literal[tuple(sorted(ROLES))]  # type: ignore[valid-type]


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=200)


class RefreshIn(BaseModel):
    refresh_token: str = Field(min_length=1)


class PasswordIn(BaseModel):
    old_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int | None = None
    token_type: str = "Bearer"
    must_change_password: bool


class Me(BaseModel):
    username: str
    full_name: str
    roles: list[str]
    unit_code: str | None
    department_code: str | None
    must_change_password: bool


class Account(Me):
    email: str | None
    zalo_phone: str | None


class UnitIn(BaseModel):
    code: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=300)
    type: str = Field(min_length=1, max_length=50, examples=["department", "commune"])
    parent_code: str | None = None


class Unit(UnitIn):
    pass


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    email: str | None = None
    zalo_phone: str | None = None
    roles: list[Role] = Field(min_length=1)
    unit_code: str | None = None
    department_code: str | None = None


class IssuedAccount(BaseModel):
    username: str
    initial_password: str = Field(description="Shown once; the person must change it")


class RolesIn(BaseModel):
    roles: list[Role] = Field(min_length=1)


class AuditEntry(BaseModel):
    at: str
    action: str
    actor: str | None
    subject: str | None
    ip: str | None
    detail: dict
