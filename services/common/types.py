"""Column types that keep what a user entered on every backend.

SQLite has no time zone and no exact decimal: an aware ``DateTime`` is written as its
wall-clock text and read back as if it were UTC (a window given at 17:00+07:00 locked at
midnight), and ``Numeric`` goes through float. These types make SQLite (the default
``make run`` backend) keep the same instants and the same exact scores as PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

# Four decimal places hold every score the sets use (0.25 steps, ratios rounded by the
# rule) and every total of them.
SCALE = 4
_QUANTUM = Decimal(1).scaleb(-SCALE)


class UtcDateTime(TypeDecorator[datetime]):
    """An instant: aware on the way in, stored in UTC, aware UTC on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime takes a datetime, not {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive time has no instant: guessing its zone is how windows shift by hours.
            raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """A score or total: NUMERIC on PostgreSQL, a scaled integer on SQLite.

    The scaled integer keeps SQL ``SUM`` exact on SQLite too; ``func.sum(column)`` takes
    this type, so the sum comes back as a Decimal. A value with more than ``SCALE``
    decimal places is refused rather than rounded, and floats are refused: they are
    already inexact when they arrive.
    """

    impl = Numeric(18, SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, SCALE, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        exact = to_exact(value)
        if dialect.name == "sqlite":
            return int(exact.scaleb(SCALE))
        return exact

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-SCALE).quantize(_QUANTUM)
        return Decimal(value).quantize(_QUANTUM)


def to_exact(value: Decimal | int | str) -> Decimal:
    """``value`` as a Decimal with ``SCALE`` places; ValueError when it cannot be exact."""
    if isinstance(value, float) or isinstance(value, bool):
        raise TypeError(f"scores are exact: {value!r} must be a Decimal, int or str")
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"not a decimal number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    if abs(number.adjusted()) > 18:
        raise ValueError(f"out of range: {value!r}")
    exact = number.quantize(_QUANTUM)
    if exact != number:
        raise ValueError(f"more than {SCALE} decimal places: {value!r}")
    return exact
