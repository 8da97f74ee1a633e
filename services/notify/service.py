"""Notify service: email and Zalo fan-out (thông báo)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import select

from services.common.base import ServiceBase
from services.common.contracts import IDENTITY, NOTIFY, USER_CREATED
from services.common.events import retrying_event_handler
from services.common.outbox import claim_event
from services.notify.domain import account_issued
from services.notify.models import Notification


class Service(ServiceBase):
    name = NOTIFY

    # Retried on error: an account notice must survive a database hiccup, and a notice
    # that keeps failing is parked in a dead-letter queue instead of looping forever.
    @retrying_event_handler(IDENTITY, USER_CREATED, attempts=8, retry_delay=5.0)
    def on_user_created(self, payload: dict[str, Any]) -> None:
        with self.db.begin():
            if not claim_event(self.db, payload["event_id"], "on_user_created"):
                return
            now = datetime.now(UTC)
            for message in account_issued(payload):
                self.db.add(
                    Notification(**message, source_event_id=payload["event_id"], created_at=now)
                )

    @rpc
    def list_notifications(self, recipient: str | None = None) -> list[dict[str, Any]]:
        query = select(Notification).order_by(Notification.id)
        if recipient:
            query = query.where(Notification.recipient == recipient)
        return [
            {
                "id": n.id,
                "channel": n.channel,
                "recipient": n.recipient,
                "subject": n.subject,
                "body": n.body,
                "status": n.status,
                "created_at": n.created_at.isoformat(),
            }
            for n in self.db.scalars(query)
        ]
