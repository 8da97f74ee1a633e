"""Hộp thư thông báo: recording what people are told, reading it, their preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from services.common.errors import DomainError, not_found
from services.notify.config import NotifySettings
from services.notify.domain import channels_for, vn_time
from services.notify.fanout import Notice
from services.notify.messaging import render_email, render_zalo
from services.notify.models import Delivery, Notification, Preference


def dialect_insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert


def preferences_of(session: Session, usernames: list[str]) -> dict[str, dict[str, bool]]:
    out: dict[str, dict[str, bool]] = {}
    names = sorted(set(usernames))
    for start in range(0, len(names), 1000):
        for pref in session.scalars(select(Preference).where(
                Preference.username.in_(names[start:start + 1000]))):
            out[pref.username] = {"email": pref.email, "zalo": pref.zalo}
    return out


def record(session: Session, event_key: str, notices: list[Notice], cfg: NotifySettings,
           now: datetime) -> int:
    """Writes each notice and its deliveries; call inside the claiming transaction.

    Unique (event, person) and (event, person, channel) keep a second recording of
    the same event from adding anything, even without the claim.
    """
    if not notices:
        return 0
    prefs = preferences_of(session, [n.person.username for n in notices])
    seen: set[str] = set()
    rows, rendered = [], {}
    for notice in notices:
        name = notice.person.username
        if name in seen:
            continue
        seen.add(name)
        subject, body = render_email(notice.kind, notice.context)
        rendered[name] = (notice, subject, body)
        rows.append({"event_key": event_key, "kind": notice.kind, "username": name,
                     "title": subject, "body": body, "created_at": now})
    ids = dict(session.execute(
        dialect_insert(session)(Notification).on_conflict_do_nothing()
        .returning(Notification.username, Notification.id),
        rows,
    ).all())
    deliveries = []
    for name, notification_id in ids.items():
        notice, subject, body = rendered[name]
        for channel, address in channels_for(notice.person, notice.kind, prefs.get(name)).items():
            if channel == "zalo" and not cfg.zalo_enabled:
                continue
            content: dict[str, Any] = {"subject": subject, "body": body}
            if channel == "zalo":
                content = {"template_id": cfg.template_id(notice.kind),
                           "template_data": render_zalo(notice.kind, notice.context),
                           # kept for the email it may fall back to (−118)
                           "subject": subject, "body": body,
                           "email": notice.person.email}
            deliveries.append({
                "notification_id": notification_id, "event_key": event_key,
                "username": name, "channel": channel, "address": address, "status": "queued",
                "attempts": 0, "next_attempt_at": now, "content": content})
    if deliveries:
        session.execute(dialect_insert(session)(Delivery).on_conflict_do_nothing(), deliveries)
    return len(ids)


def add_fallback_email(session: Session, zalo: Delivery, now: datetime) -> bool:
    """Zalo has no account for this number (−118): the same notice by email, once."""
    email = (zalo.content or {}).get("email")
    if not email:
        return False
    result = session.execute(dialect_insert(session)(Delivery).values(
        notification_id=zalo.notification_id, event_key=zalo.event_key,
        username=zalo.username, channel="email", address=email, status="queued",
        attempts=0, next_attempt_at=now,
        content={"subject": zalo.content["subject"], "body": zalo.content["body"]},
    ).on_conflict_do_nothing())
    return result.rowcount == 1


def _out(n: Notification, deliveries: list[Delivery]) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "title": n.title, "body": n.body,
        "created_at": n.created_at.isoformat(), "created_at_display": vn_time(n.created_at),
        "read_at": n.read_at.isoformat() if n.read_at else None,
        "deliveries": [{"channel": d.channel, "to": d.address,
                        # 'sending' is ours; to the reader it is still on its way
                        "status": "queued" if d.status == "sending" else d.status,
                        "attempts": d.attempts, "last_error": d.last_error,
                        "sent_at": d.sent_at.isoformat() if d.sent_at else None}
                       for d in sorted(deliveries, key=lambda d: d.channel)],
    }


def mine(session: Session, username: str, limit: int, before_id: int | None) -> list[dict]:
    """A person's notices, newest first, each with the state of its deliveries."""
    query = select(Notification).where(Notification.username == username)
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    with session.begin():
        found = list(session.scalars(query.order_by(Notification.id.desc()).limit(limit)))
        by_notice: dict[int, list[Delivery]] = {n.id: [] for n in found}
        if found:
            for d in session.scalars(select(Delivery).where(
                    Delivery.notification_id.in_(list(by_notice)))):
                by_notice[d.notification_id].append(d)
        return [_out(n, by_notice[n.id]) for n in found]


def mark_read(session: Session, username: str, notification_id: int, now: datetime) -> dict:
    with session.begin():
        found = session.get(Notification, notification_id) if 0 < notification_id < 2**31 \
            else None
        # Someone else's notice is as absent as a missing one: ids tell nothing.
        if found is None or found.username != username:
            raise not_found("thông báo / notification", str(notification_id))
        if found.read_at is None:
            session.execute(update(Notification).where(Notification.id == notification_id)
                            .values(read_at=now))
            found.read_at = now
        return {"id": found.id, "read_at": found.read_at.isoformat()}


def set_preferences(session: Session, username: str, wanted: dict[str, Any],
                    now: datetime) -> dict[str, Any]:
    unknown = sorted(set(wanted) - {"email", "zalo"})
    if unknown or not all(isinstance(v, bool) for v in wanted.values()):
        raise DomainError(
            "invalid_input",
            "Chỉ nhận {email: true|false, zalo: true|false} / "
            "preferences are {email: bool, zalo: bool}", 422, {"fields": unknown})
    with session.begin():
        pref = session.get(Preference, username)
        if pref is None:
            pref = Preference(username=username, email=True, zalo=True, updated_at=now)
            session.add(pref)
        for channel, on in wanted.items():
            setattr(pref, channel, on)
        pref.updated_at = now
        return preferences_out(pref)


def get_preferences(session: Session, username: str) -> dict[str, Any]:
    with session.begin():
        pref = session.get(Preference, username)
        return preferences_out(pref)


def preferences_out(pref: Preference | None) -> dict[str, Any]:
    return {"email": pref.email if pref else True, "zalo": pref.zalo if pref else True,
            # Said with the answer, so a person knows what still comes.
            "always_sent": ["reminder", "criteria_returned"]}
