"""Rules of notify on plain data: channels, backoff, reminder instants, how times read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from services.common import scoring, times

VIETNAM = times.VN

# Announcements nobody may switch off: the council's returns and the lock reminders.
MANDATORY = frozenset({"reminder", "criteria_returned"})

# Windows the units write in (reminded); the others are the council's.
UNIT_WINDOWS = frozenset({"self_assessment", "supplement"})

KIND_LABELS = {
    "self_assessment": "Thời hạn tự đánh giá",
    "appraisal": "Thời hạn thẩm định vòng 1",
    "supplement": "Thời hạn giải trình, bổ sung (vòng 2)",
    "final_appraisal": "Thời hạn thẩm định vòng 2",
}


@dataclass(frozen=True)
class Person:
    """A recipient as identity knows them."""

    username: str
    full_name: str
    email: str | None
    zalo_phone: str | None

    @classmethod
    def of(cls, user: dict[str, Any]) -> Person:
        return cls(user["username"], user.get("full_name") or user["username"],
                   user.get("email") or None, user.get("zalo_phone") or None)


def channels_for(person: Person, kind: str, prefs: dict[str, bool] | None) -> dict[str, str]:
    """``{channel: address}`` a person gets a notice of ``kind`` on."""
    prefs = prefs or {}
    forced = kind in MANDATORY
    out: dict[str, str] = {}
    if person.email and (forced or prefs.get("email", True)):
        out["email"] = person.email
    phone = zalo_phone(person.zalo_phone)
    if phone and (forced or prefs.get("zalo", True)):
        out["zalo"] = phone
    return out


def zalo_phone(phone: str | None) -> str | None:
    """A Vietnamese number as ZNS wants it: 84 and the subscriber number, digits only."""
    if not phone:
        return None
    digits = "".join(c for c in phone if c.isdigit())
    if digits.startswith("0"):
        digits = "84" + digits[1:]
    return digits or None


def backoff(attempt: int, base: float, cap: float) -> timedelta:
    """Wait after the ``attempt``-th failure: base, 2×base, 4×base, … at most cap."""
    return timedelta(seconds=min(cap, base * (2 ** max(0, attempt - 1))))


def vn_time(value: datetime | str | None) -> str:
    """dd/MM/yyyy HH:mm in Vietnam time, as people read a deadline."""
    return times.vn_time(value)


def vn_number(value: Any) -> str:
    """A score with the decimal comma and no trailing zeros: 12,25; 100."""
    return scoring.vn_text(value)


def minutes_left(locks_at: datetime, now: datetime) -> int:
    """Whole minutes to the lock, rounded up: a reminder sent a second late still
    says "2 giờ", one sent late after an outage says what is really left."""
    return max(1, -(-int((locks_at - now).total_seconds()) // 60))


def remaining(minutes: int) -> str:
    """How far the lock is, in words: "3 ngày", "1 ngày", "2 giờ", "45 phút"."""
    if minutes % 1440 == 0:
        return f"{minutes // 1440} ngày"
    if minutes % 60 == 0:
        return f"{minutes // 60} giờ"
    if minutes > 60:
        return f"{minutes // 60} giờ {minutes % 60} phút"
    return f"{minutes} phút"


@dataclass(frozen=True)
class DueReminder:
    window_id: int
    minutes: int
    instant: datetime
    send: bool  # False: missed while down and superseded by a later instant


def due_reminders(
    window_id: int, opens_at: datetime, locks_at: datetime, minutes: list[int],
    claimed: set[int], now: datetime,
) -> list[DueReminder]:
    """The reminders of one window to claim at ``now``.

    A reminder is due from its instant (locks_at − minutes) until the lock; nothing
    at or after the lock, and nothing whose instant is not after the window opens
    (the window_opened notice told them). When several instants have passed
    unclaimed (the service was down), only the latest is sent: the others are claimed
    as superseded, so nobody gets three reminders in a row.
    """
    if now >= locks_at:
        return []
    passed = sorted(
        (m for m in set(minutes) if opens_at < locks_at - timedelta(minutes=m) <= now),
        reverse=True,
    )
    if not passed:
        return []
    latest = passed[-1]
    return [
        DueReminder(window_id, m, locks_at - timedelta(minutes=m), m == latest)
        for m in passed if m not in claimed
    ]


def reminder_key(window_id: int, minutes: int) -> str:
    return f"reminder:{window_id}:{minutes}"
