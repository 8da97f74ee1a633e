"""Errors a service raises on purpose; the gateway turns them into problem+json.

They travel over RPC as nameko serialises exceptions (type name and ``args``), so
every argument is plain JSON: a stable machine ``code``, a ``detail`` in Vietnamese
with the English beside it, the HTTP status it maps to, and optional extras.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(
        self, code: str, detail: str, status: int = 422, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(code, detail, status, extra or {})
        self.code = code
        self.detail = detail
        self.status = status
        self.extra = extra or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def invalid(detail: str, errors: list[dict[str, Any]] | None = None) -> DomainError:
    return DomainError("invalid_input", detail, 422, {"errors": errors or []})


def not_found(what: str, key: str) -> DomainError:
    return DomainError("not_found", f"Không tìm thấy {what} {key} / {what} {key} not found", 404)
