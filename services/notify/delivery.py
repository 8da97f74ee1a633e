"""Sending (gửi): leases due deliveries, sends them, records each outcome at once.

Each sender is a green thread with one connection to its channel (an SMTP session,
an HTTP session to ZNS). It leases a few due deliveries at a time, sends them one
after another and commits each outcome before the next message leaves. A process
killed mid-batch therefore leaves: messages sent and recorded (never sent again), a
few leased ones per sender (taken again when their lease runs out), the rest queued. The one case
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
# Every channel's series exist from the start, so a rate over them reads 0, not "no
# data", until the first message (deploy/prometheus/alerts.yml, the Grafana dashboard).
for _channel in CHANNELS:
    for _counter in (SENT, FAILED, RETRIED):
        _counter.labels(_channel)


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


def _lease(session: Session, channel: str, now: datetime, lease: timedelta,
           size: int) -> list[Delivery]:
    """Takes up to ``size`` due deliveries of a channel for this sender."""
    queued = and_(Delivery.status == "queued", Delivery.next_attempt_at <= now)
    # A sender that died holding them: their lease ran out.
    orphaned = and_(Delivery.status == "sending", Delivery.lease_until <= now)
    postgres = session.get_bind().dialect.name == "postgresql"
    ids: list[int] = []
    for due, order in ((orphaned, Delivery.lease_until), (queued, Delivery.next_attempt_at)):
        query = (select(Delivery.id).where(Delivery.channel == channel, due)
                 .order_by(order, Delivery.id).limit(size - len(ids)))
        if postgres:
            query = query.with_for_update(skip_locked=True)
        ids += session.scalars(query).all()
        if len(ids) >= size:
            break
    if not ids:
        return []
    # Compare-and-set: only rows still due are taken (SQLite has no row locks).
    taken = session.scalars(
        update(Delivery).where(Delivery.id.in_(ids), or_(queued, orphaned))
        .values(status="sending", lease_until=now + lease, attempts=Delivery.attempts + 1)
        .returning(Delivery.id)
    ).all()
    rows = list(session.scalars(select(Delivery).where(Delivery.id.in_(taken))
                                .order_by(Delivery.id)
                                .execution_options(populate_existing=True)))
    for row in rows:
        session.expunge(row)
    return rows


def _release(session: Session, rest: list[Delivery]) -> None:
    """Gives back leased deliveries this sender will not reach before its lease ends."""
    for d in rest:
        session.execute(update(Delivery).where(
            Delivery.id == d.id, Delivery.status == "sending", Delivery.attempts == d.attempts,
        ).values(status="queued", lease_until=None, attempts=Delivery.attempts - 1))


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
    """Sends due deliveries of one channel until none is left; returns how many.

    Each outcome is committed right after its send, before the next message leaves.
    A message is sent only while the lease has time for a whole attempt left, so a
    lease never runs out during a send and no other sender can take it meanwhile.
    """
    lease = timedelta(seconds=cfg.notify_lease_seconds)
    attempt = timedelta(seconds=cfg.smtp_timeout if channel == "email" else
                        2 * cfg.zalo_timeout + cfg.zalo_timeout)  # a refresh and a retry
    size = max(1, cfg.notify_lease_batch)
    sender = Sender(channel, cfg, tokens)
    done = 0
    try:
        while True:
            with factory() as session, session.begin():
                leased_at = clock()
                batch = _lease(session, channel, leased_at, lease, size)
            if not batch:
                return done
            for i, current in enumerate(batch):
                if clock() + attempt >= leased_at + lease:
                    with factory() as session, session.begin():
                        _release(session, batch[i:])
                    break
                try:
                    outcome = sender.send(current)
                except Exception as exc:  # a bug in a channel must not wedge the loop
                    log.exception("sending delivery %s", current.id)
                    outcome = Outcome("retry", f"internal: {exc!r}"[:500])
                with factory() as session, session.begin():
                    _record(session, current, outcome, cfg, clock())
                done += 1
    finally:
        sender.close()


def due_channels(session: Session, now: datetime) -> set[str]:
    """The channels with a delivery to send now (queued and due, or its lease run out)."""
    with session.begin():
        return set(session.scalars(
            select(Delivery.channel).where(or_(
                and_(Delivery.status == "queued", Delivery.next_attempt_at <= now),
                and_(Delivery.status == "sending", Delivery.lease_until <= now)))
            .group_by(Delivery.channel)))


def send_due(engine: Engine, cfg: NotifySettings, tokens: TokenStore,
             clock: Callable[[], datetime] = utcnow) -> int:
    """One round: several senders per channel, until nothing is due."""
    factory = sessionmaker(engine, expire_on_commit=False)
    # One read when nothing is due, as on most ticks: not a lease attempt per sender
    # (12 by default, twice a second), which cost the deadline rush's database.
    with factory() as session:
        due = due_channels(session, clock())
    if not due:
        return 0
    width = {"email": max(1, cfg.smtp_connections) if "email" in due else 0,
             "zalo": max(1, cfg.zalo_connections) if cfg.zalo_enabled and "zalo" in due
             else 0}
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
