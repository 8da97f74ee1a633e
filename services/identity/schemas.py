"""What crosses the identity service's boundary."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, field_validator

from services.identity.domain import unknown_roles


class UnitIn(BaseModel):
    code: str = Field(min_length=1, max_length=50)
    name: str = Field(min_length=1, max_length=300)
    type: str = Field(min_length=1, max_length=50)
    parent_code: str | None = Field(None, max_length=50)


class UserIn(BaseModel):
    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    # As long as their columns (services/identity/models.py): longer is 422, not a 500.
    email: str | None = Field(None, max_length=200)
    zalo_phone: str | None = Field(None, max_length=30)
    roles: list[str] = Field(min_length=1)
    unit_code: str | None = Field(None, max_length=50)
    department_code: str | None = Field(None, max_length=50)

    @field_validator("username")
    @classmethod
    def _lower(cls, username: str) -> str:
        # Keycloak keeps usernames in lower case; so do we, in both modes.
        return username.lower()

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = unknown_roles(roles)
        if unknown:
            raise ValueError(f"unknown roles: {', '.join(unknown)}")
        return roles


class RolesIn(BaseModel):
    roles: list[str] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = unknown_roles(roles)
        if unknown:
            raise ValueError(f"unknown roles: {', '.join(unknown)}")
        return roles


def profile(user: Any) -> dict[str, Any]:
    """A user as the gateway shows it (never the password hash)."""
    return {
        "username": user.username, "full_name": user.full_name, "email": user.email,
        "zalo_phone": user.zalo_phone, "roles": list(user.roles), "unit_code": user.unit_code,
        "department_code": user.department_code,
        "must_change_password": user.must_change_password,
    }
