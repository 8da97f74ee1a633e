"""Notify service: email and Zalo to the people concerned (thông báo, nhắc hạn).

Entrypoints only. Who gets what is in fanout, the channels in messaging, sending
and retrying in delivery, reminders in scheduled, the inbox and preferences in inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from services.common.base import ServiceBase
from services.common.contracts import (
    APPRAISAL,
    ASSESSMENT_SUBMITTED,
    ASSESSMENT_WITHDRAWN,
    CRITERIA_RETURNED,
    ENTRIES_ASSIGNED,
    IDENTITY,
    NOTIFY,
    RESULTS_PUBLISHED,
    SUBMISSION,
    USER_CREATED,
    WINDOW_OPENED,
)
from services.common.db import transaction
from services.common.errors import DomainError
from services.common.events import retrying_event_handler
from services.common.outbox import claim_event, processed_events
from services.notify import delivery, fanout, inbox, scheduled
from services.notify.config import notify_settings
from services.notify.fanout import Notice
from services.notify.tokens import DbTokens

_cfg = notify_settings()
# Retried on error (a database hiccup, identity briefly away), then parked in a
# dead-letter queue instead of looping forever.
ATTEMPTS, RETRY_DELAY = 8, 5.0
_tokens: dict[str, DbTokens] = {}


def clock() -> datetime:
    return datetime.now(UTC)


class Service(ServiceBase):
    name = NOTIFY

    identity = RpcProxy(IDENTITY)
    submission = RpcProxy(SUBMISSION)

    # --- Events: who gets what -------------------------------------------------------

    @retrying_event_handler(IDENTITY, USER_CREATED, attempts=ATTEMPTS, retry_delay=RETRY_DELAY)
    def on_user_created(self, payload: dict[str, Any]) -> None:
        self._fan_out(payload, "on_user_created",
                      lambda: fanout.account_created(payload, _cfg.public_url))

    @retrying_event_handler(SUBMISSION, ENTRIES_ASSIGNED, attempts=ATTEMPTS,
                            retry_delay=RETRY_DELAY)
    def on_entries_assigned(self, payload: dict[str, Any]) -> None:
        self._fan_out(payload, "on_entries_assigned",
                      lambda: fanout.entries_assigned(payload, self.identity, self.submission))

    @retrying_event_handler(SUBMISSION, WINDOW_OPENED, attempts=ATTEMPTS,
                            retry_delay=RETRY_DELAY)
    def on_window_opened(self, payload: dict[str, Any]) -> None:
        self._fan_out(payload, "on_window_opened",
                      lambda: fanout.window_opened(payload, self.identity),
                      also=lambda: scheduled.watch(self.db, payload))

    @retrying_event_handler(SUBMISSION, ASSESSMENT_SUBMITTED, attempts=ATTEMPTS,
                            retry_delay=RETRY_DELAY)
    def on_assessment_submitted(self, payload: dict[str, Any]) -> None:
        self._fan_out(payload, "on_assessment_submitted", lambda: fanout.receipt(
            "assessment_submitted", payload, self.identity, self.submission))

    @retrying_event_handler(SUBMISSION, ASSESSMENT_WITHDRAWN, attempts=ATTEMPTS,
                            retry_delay=RETRY_DELAY)
    def on_assessment_withdrawn(self, payload: dict[str, Any]) -> None:
        self._fan_out(payload, "on_assessment_withdrawn", lambda: fanout.receipt(
            "assessment_withdrawn", payload, self.identity, self.submission))

    @retrying_event_handler(APPRAISAL, CRITERIA_RETURNED, attempts=ATTEMPTS,
                            retry_delay=RETRY_DELAY)
    def on_criteria_returned(self, payload: dict[str, Any]) -> None:
        self._fan_out(payload, "on_criteria_returned", lambda: fanout.criteria_returned(
            payload, self.identity, self.submission))

    @retrying_event_handler(APPRAISAL, RESULTS_PUBLISHED, attempts=ATTEMPTS,
                            retry_delay=RETRY_DELAY)
    def on_results_published(self, payload: dict[str, Any]) -> None:
        self._fan_out(payload, "on_results_published",
                      lambda: fanout.results_published(payload, self.identity, _cfg.public_url))

    # --- Timers: sending and reminding ---------------------------------------------------

    @timer(interval=_cfg.notify_delivery_interval)
    def send_deliveries(self) -> None:
        engine = self.db.get_bind()
        tokens = _tokens.get(str(engine.url))
        if tokens is None:
            tokens = _tokens[str(engine.url)] = DbTokens(
                sessionmaker(engine, expire_on_commit=False), _cfg)
        delivery.send_due(engine, _cfg, tokens, clock)
        delivery.update_gauges(self.db)

    @timer(interval=_cfg.notify_reminder_interval)
    def send_reminders(self) -> None:
        scheduled.send_reminders(self.db, self.submission, self.identity, _cfg, clock)

    # --- The inbox -----------------------------------------------------------------------

    @rpc
    def inbox(self, username: str, limit: int = 50,
              before_id: int | None = None) -> list[dict[str, Any]]:
        """Newest first: [{id, kind, title, body, created_at, read_at, deliveries}]."""
        return inbox.mine(self.db, username, max(1, min(int(limit), 200)), before_id)

    @rpc(expected_exceptions=DomainError)
    def mark_read(self, username: str, notification_id: int) -> dict[str, Any]:
        return inbox.mark_read(self.db, username, notification_id, clock())

    @rpc
    def get_preferences(self, username: str) -> dict[str, Any]:
        return inbox.get_preferences(self.db, username)

    @rpc(expected_exceptions=DomainError)
    def set_preferences(self, username: str, preferences: dict[str, Any]) -> dict[str, Any]:
        return inbox.set_preferences(self.db, username, preferences, clock())

    # --- Helpers (not entrypoints) ---------------------------------------------------------

    def _fan_out(self, payload: dict[str, Any], handler: str,
                 notices: Callable[[], list[Notice]],
                 also: Callable[[], None] | None = None) -> None:
        """Claims the event and records its notices and deliveries in one transaction."""
        event_id = payload["event_id"]
        with transaction(self.db):
            done = self.db.scalar(select(processed_events.c.event_id).where(
                processed_events.c.event_id == event_id,
                processed_events.c.handler == handler))
        if done is not None:
            return  # a redelivery: no need to ask identity again
        found = notices()
        with transaction(self.db):
            if not claim_event(self.db, event_id, handler):
                return
            if also is not None:
                also()
            inbox.record(self.db, event_id, found, _cfg, clock())
