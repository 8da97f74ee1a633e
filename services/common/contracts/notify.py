"""notify: email and Zalo notices, and each person's inbox (thông báo).

Usernames as identity stores them; notify keeps its own inbox per person. notify calls
identity.list_users (leaders, appraisers, a unit's people), submission.get_campaign,
submission.get_assessment_by_id (as a system actor with the admin role, for the
assignees of returned criteria) and submission.pending_units (at each reminder instant).
"""

from __future__ import annotations

from typing import Literal, NotRequired, Protocol, TypedDict

from services.common.contracts.shared import ServiceRpc


class Delivery(TypedDict):
    channel: Literal["email", "zalo"]
    to: str
    status: Literal["queued", "sent", "delivered", "failed"]
    attempts: int
    last_error: str | None
    sent_at: str | None


class Notification(TypedDict):
    id: int
    kind: str
    title: str
    body: str
    created_at: str
    created_at_display: str
    read_at: str | None
    deliveries: list[Delivery]


class ReadMark(TypedDict):
    id: int
    read_at: str


class Channels(TypedDict):
    email: NotRequired[bool]
    zalo: NotRequired[bool]


class Preferences(TypedDict):
    """``always_sent``: the kinds that cannot be switched off (reminders, returns)."""

    email: bool
    zalo: bool
    always_sent: list[str]


class NotifyRpc(ServiceRpc, Protocol):
    def inbox(self, username: str, limit: int = 50,
              before_id: int | None = None) -> list[Notification]:
        """Newest first, at most 200, those older than ``before_id``."""
        ...

    def mark_read(self, username: str, notification_id: int) -> ReadMark:
        """404 ``not_found``, also for someone else's notice."""
        ...

    def get_preferences(self, username: str) -> Preferences:
        ...

    def set_preferences(self, username: str, preferences: Channels) -> Preferences:
        """422 ``invalid_input`` for anything but email / zalo booleans."""
        ...
