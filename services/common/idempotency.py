"""Writes a client may retry (``Idempotency-Key``), inside a window's lock.

Each service keeps the first answer to a keyed write in its own table, a model made
from ``IdempotentResponseMixin``; ``run`` does the write, stores the answer in the same
transaction and commits through ``windows.commit``, so the key exists exactly when the
write committed, before the lock instant.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from services.common import windows
from services.common.errors import DomainError
from services.common.types import UtcDateTime


class IdempotentResponseMixin:
    """The first answer to a write sent with an ``Idempotency-Key``, per username."""

    actor: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


Work = Callable[[], tuple[dict[str, Any], windows.WindowLike | None]]


def run(session: Session, model: type[IdempotentResponseMixin], actor: str, key: str | None,
        fingerprint: str, work: Work) -> dict[str, Any]:
    """Runs ``work`` in one transaction, or replays the answer a key already got.

    ``work`` returns its answer and the window its write falls in (None when it is
    not window-bound); the commit is refused with 423 once that window's instant has
    passed (services/common/windows.py).

    Two requests racing with one key: the second insert breaks the primary key, its
    whole transaction rolls back, and it replays the first.
    """
    if key is not None:
        replay = _replay(session, model, actor, key, fingerprint)
        if replay is not None:
            return replay
    try:
        result, window = work()
        if key is not None:
            session.add(model(actor=actor, key=key, fingerprint=fingerprint,
                              response=result, created_at=datetime.now(UTC)))
        session.flush()
        windows.commit(session, window)
    except IntegrityError:
        session.rollback()
        replay = _replay(session, model, actor, key, fingerprint) if key is not None else None
        if replay is None:
            raise
        return replay
    except BaseException:
        session.rollback()
        raise
    return result


def _replay(session: Session, model: type[IdempotentResponseMixin], actor: str, key: str,
            fingerprint: str) -> dict[str, Any] | None:
    stored = session.get(model, (actor, key), populate_existing=True)
    session.rollback()
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise DomainError(
            "idempotency_key_reused",
            "Khóa Idempotency-Key đã dùng cho một yêu cầu khác / "
            "this Idempotency-Key was used for another request",
            422,
        )
    return stored.response
