"""What a page shows when the system refuses: the API's own status, code and message."""

from __future__ import annotations

from typing import Any


def vietnamese(detail: str | None) -> str:
    """The Vietnamese half of an API message (``"Vietnamese / English"``)."""
    return (detail or "").split(" / ")[0]


class ApiError(Exception):
    """A 4xx/5xx answer of the API: its status, stable code and Vietnamese detail."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self.body = body
        self.code = str(body.get("code") or f"http_{status}")
        self.detail = str(body.get("detail") or "Lỗi không xác định / unknown error")
        super().__init__(f"{status} {self.code}: {self.detail}")

    @property
    def message(self) -> str:
        """The Vietnamese part of the detail, which the pages show first."""
        return vietnamese(self.detail)

    @property
    def problems(self) -> list[dict[str, Any]]:
        """Every problem the API listed (a criteria set's, an input's), for the page."""
        listed = self.body.get("problems") or []
        errors = [{"path": ".".join(e.get("loc", [])[1:]), "message": e.get("msg", "")}
                  for e in self.body.get("errors") or []]
        return [*listed, *errors]
