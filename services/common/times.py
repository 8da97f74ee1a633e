"""Instants as every service stores and publishes them.

Stored in UTC (services/common/types.py's ``UtcDateTime``); published over RPC and
events as ISO 8601 in Vietnam time (Asia/Ho_Chi_Minh, +07:00), so a reader of a payload
sees the wall clock the units see. Pages and documents show ``dd/MM/yyyy HH:mm``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

VN: Final = ZoneInfo("Asia/Ho_Chi_Minh")


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive instant (SQLite hands them back) is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def vn_iso(moment: datetime | None) -> str | None:
    """Shown in Vietnam time, ISO 8601 with its offset (+07:00)."""
    if moment is None:
        return None
    return as_utc(moment).astimezone(VN).isoformat()


def parse_instant(value: str | datetime | None) -> datetime | None:
    """An instant from a payload (ISO 8601 with its offset) or a row; a bare one is UTC."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def vn_time(value: str | datetime | None, empty: str = "") -> str:
    """``dd/MM/yyyy HH:mm`` in Vietnam time, as pages, documents and messages show it."""
    moment = parse_instant(value)
    return moment.astimezone(VN).strftime("%d/%m/%Y %H:%M") if moment else empty
