"""Errors a service raises on purpose; the gateway turns them into problem+json.

They travel over RPC as nameko serialises exceptions: the type name and ``args``,
where nameko turns every value that is not a string into one (423 becomes "423",
and so would every number inside the extras). So the arguments are kept as strings
on purpose: a stable machine ``code``, a ``detail`` in Vietnamese with the English
beside it, the HTTP status, and the extras as a JSON document. Rebuilding the error
from those arguments (nameko does it between services, the gateway at the edge)
gives back the status as a number and the extras with their types.
"""

from __future__ import annotations

import json
from typing import Any


class DomainError(Exception):
    def __init__(
        self,
        code: str,
        detail: str,
        status: int | str = 422,
        extra: dict[str, Any] | str | None = None,
    ) -> None:
        if isinstance(extra, str):
            extra = json.loads(extra) if extra else {}
        self.code = code
        self.detail = detail
        self.status = int(status)
        self.extra: dict[str, Any] = extra or {}
        super().__init__(code, detail, str(self.status),
                         json.dumps(self.extra, ensure_ascii=False, default=str))

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"


def invalid(detail: str, errors: list[dict[str, Any]] | None = None) -> DomainError:
    return DomainError("invalid_input", detail, 422, {"errors": errors or []})


def not_found(what: str, key: str) -> DomainError:
    return DomainError("not_found", f"Không tìm thấy {what} {key} / {what} {key} not found", 404)
