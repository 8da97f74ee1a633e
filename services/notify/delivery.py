"""Sending (gửi): leases due deliveries, sends them, records each outcome at once.

Each sender is a green thread with one connection to its channel (an SMTP session,
an HTTP session to ZNS). It loops: in one transaction, record the outcome of the
message it just sent and lease the next due one; then send it. So every outcome is
committed before the next message leaves, and a process killed mid-batch leaves:
messages sent and recorded (never sent again), at most one leased message per
sender (taken again when its lease runs out), and the rest queued. The one case
that can still repeat a message is the instant between the server's acceptance and
our commit (RFC 1047's window, a round trip long): the message then goes again
with the same Message-ID / tracking_id.

A lease is a compare-and-set on the row (status and lease time), after a
``FOR UPDATE SKIP LOCKED`` read on PostgreSQL, so several replicas never take the
same delivery at the same time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from eventlet.greenpool import GreenPool
from prometheus_client import Counter, Gauge
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from services.notify import inbox
from services.notify.config import NotifySettings
from services.notify.domain import backoff
from services.notify.messaging import Mailer, Outcome, TokenStore, ZaloClient, message_id
from services.notify.models import Delivery

log = logging.getLogger(__name__)

SENT = Counter("cchc_notify_sent", "Messages the channel's server accepted.", ["channel"])
FAILED = Counter("cchc_notify_failed",
                 "Deliveries given up (permanent error or last attempt): dead letters.",
                 ["channel"])
RETRIED = Counter("cchc_notify_retried", "Attempts that failed and will be tried again.",
                  ["channel"])
FALLBACKS = Counter("cchc_notify_zalo_fallbacks",
                    "Zalo deliveries turned into email (no Zalo account).")
BACKLOG = Gauge("cchc_notify_retry_backlog",
                "Deliveries waiting for another attempt after a failure.", ["channel"])
QUEUED = Gauge("cchc_notify_queued", "Deliveries not yet sent or given up.", ["channel"])

CHANNELS = ("email", "zalo")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Sender:
    """One channel connection; ``send(delivery) -> Outcome``."""

    def __init__(self, channel: str, cfg: NotifySettings, tokens: TokenStore) -> None:
        self.channel = channel
        self.client: Mailer | ZaloClient = (
            Mailer(cfg) if channel == "email" else ZaloClient(cfg, tokens))

    def send(self, d: Delivery) -> Outcome:
        if isinstance(self.client, Mailer):
            return self.client.send(d.address, d.content, message_id(d.id))
        return self.client.send(d.address, d.content, f"cchc-delivery-{d.id}")

    def close(self) -> None:
        self.client.close()


def _lease_next(session: Session, channel: str, now: datetime, lease: timedelta) -> Delivery | None:
    due = or_(
        and_(Delivery.status == "queued", Delivery.next_attempt_at <= now),
        # A sender that died holding it: its lease ran out.
        and_(Delivery.status == "sending", Delivery.lease_until <= now),
    )
    for _ in range(5):
        query = (select(Delivery.id).where(Delivery.channel == channel, due)
                 .order_by(Delivery.next_attempt_at, Delivery.id).limit(1))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        found = session.scalar(query)
        if found is None:
            return None
        taken = session.execute(
            update(Delivery).where(Delivery.id == found, due)
            .values(status="sending", lease_until=now + lease, attempts=Delivery.attempts + 1)
        ).rowcount
        if taken == 1:
            return session.get(Delivery, found, populate_existing=True)
    return None


def _record(session: Session, d: Delivery, outcome: Outcome, cfg: NotifySettings,
            now: datetime) -> None:
    values: dict[str, Any] = {"lease_until": None, "last_error": outcome.error}
    if outcome.status == "sent":
        values.update(status="sent", sent_at=now, provider_id=outcome.provider_id)
        SENT.labels(d.channel).inc()
    elif outcome.status == "retry" and d.attempts < cfg.notify_max_attempts:
        values.update(status="queued", next_attempt_at=now + backoff(
            d.attempts, cfg.notify_retry_base_seconds, cfg.notify_retry_cap_seconds))
        RETRIED.labels(d.channel).inc()
    else:
        values.update(status="failed")
        if outcome.status == "fallback":
            FALLBACKS.inc()
            if inbox.add_fallback_email(session, d, now):
                values["last_error"] = f"{outcome.error}; gửi qua email / sent by email instead"
        FAILED.labels(d.channel).inc()
    # Only if still ours: a lease that ran out may already belong to another sender.
    session.execute(update(Delivery).where(Delivery.id == d.id, Delivery.status == "sending",
                                           Delivery.attempts == d.attempts).values(**values))


def run_sender(factory: Callable[[], Session], channel: str, cfg: NotifySettings,
               tokens: TokenStore, clock: Callable[[], datetime] = utcnow) -> int:
    """Sends due deliveries of one channel until none is left; returns how many."""
    lease = timedelta(seconds=cfg.notify_lease_seconds)
    sender = Sender(channel, cfg, tokens)
    done = 0
    previous: tuple[Delivery, Outcome] | None = None
    try:
        while True:
            with factory() as session, session.begin():
                now = clock()
                if previous is not None:
                    _record(session, *previous, cfg, now)
                    previous = None
                current = _lease_next(session, channel, now, lease)
                if current is not None:
                    session.expunge(current)
            if current is None:
                return done
            try:
                outcome = sender.send(current)
            except Exception as exc:  # a bug in a channel must not wedge the loop
                log.exception("sending delivery %s", current.id)
                outcome = Outcome("retry", f"internal: {exc!r}"[:500])
            previous = (current, outcome)
            done += 1
    finally:
        sender.close()


def send_due(engine: Engine, cfg: NotifySettings, tokens: TokenStore,
             clock: Callable[[], datetime] = utcnow) -> int:
    """One round: several senders per channel, until nothing is due."""
    factory = sessionmaker(engine, expire_on_commit=False)
    width = {"email": max(1, cfg.smtp_connections),
             "zalo": max(1, cfg.zalo_connections) if cfg.zalo_enabled else 0}
    pool = GreenPool(sum(width.values()))
    jobs = [pool.spawn(run_sender, factory, ch, cfg, tokens, clock)
            for ch in CHANNELS for _ in range(width[ch])]
    return sum(job.wait() for job in jobs)


def update_gauges(session: Session) -> None:
    with session.begin():
        rows = session.execute(
            select(Delivery.channel, Delivery.status, Delivery.attempts > 0, func.count())
            .where(Delivery.status.in_(("queued", "sending")))
            .group_by(Delivery.channel, Delivery.status, Delivery.attempts > 0)
        ).all()
    for channel in CHANNELS:
        # Waiting for another attempt: queued again after at least one failure.
        BACKLOG.labels(channel).set(sum(n for ch, st, again, n in rows
                                        if ch == channel and st == "queued" and again))
        QUEUED.labels(channel).set(sum(n for ch, _s, _a, n in rows if ch == channel))
