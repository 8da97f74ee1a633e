"""What every service's contract uses: who acts, health, a created id, a result."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, Protocol, TypedDict


class Actor(TypedDict):
    """Who acts (người thực hiện): the gateway's ``Principal.as_actor()``.

    Usernames are in lower case, as identity stores them.
    """

    username: str
    roles: list[str]
    unit_code: str | None
    department_code: str | None


class SignedActor(Actor):
    """``Actor`` signed by the gateway (``Principal.signed_actor()``) for the calls that
    check who acts (services/common/actor.py): an expiry and an HMAC over the rest."""

    exp: NotRequired[int]
    sig: NotRequired[str]


class Health(TypedDict):
    service: str
    status: Literal["ok"]
    database: Literal["ok"]


class Created(TypedDict):
    id: int


class Result(TypedDict):
    """Total, applicable maximum, index and band (services/common/scoring.py); decimals
    as strings, index and classification None below every band / with no maximum."""

    total: str
    max: str
    index: str | None
    classification: str | None


class Change(TypedDict):
    """One line of an assessment's history (lịch sử thay đổi); ``at`` in Asia/Ho_Chi_Minh."""

    id: int
    code: str | None
    action: str
    actor: str
    at: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ServiceRpc(Protocol):
    """What every service serves (services/common/base.py)."""

    def health(self) -> Health:
        """Whether the process and its database answer."""
        ...
