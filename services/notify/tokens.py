"""The Zalo Official Account's tokens, shared by every sender and replica.

Zalo's refresh token works once: two replicas refreshing with the same one would
leave one of them locked out. So the pair lives in notify's database; a refresh
locks its row and first looks whether someone else already replaced the token that
failed, in which case it takes theirs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from eventlet.semaphore import Semaphore
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify.config import NotifySettings
from services.notify.inbox import dialect_insert
from services.notify.messaging import TokenStore, refresh_zalo_token
from services.notify.models import ZaloToken


class DbTokens(TokenStore):
    def __init__(self, factory: Callable[[], Session], cfg: NotifySettings) -> None:
        self.factory = factory
        self.cfg = cfg
        self.lock = Semaphore(1)
        self.cached: str | None = None

    def _row(self, session: Session, lock: bool) -> ZaloToken:
        # The configured pair is the first; a refreshed pair in the table wins over it.
        session.execute(dialect_insert(session)(ZaloToken).values(
            id=1, access_token=self.cfg.zalo_access_token,
            refresh_token=self.cfg.zalo_refresh_token, updated_at=datetime.now(UTC),
        ).on_conflict_do_nothing())
        query = select(ZaloToken).where(ZaloToken.id == 1)
        if lock and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return session.scalars(query.execution_options(populate_existing=True)).one()

    def current(self) -> str:
        if self.cached is None:
            with self.factory() as session, session.begin():
                self.cached = self._row(session, lock=False).access_token
        return self.cached

    def refresh(self, used: str) -> str:
        with self.lock, self.factory() as session, session.begin():
            row = self._row(session, lock=True)
            if row.access_token != used:
                self.cached = row.access_token
                return self.cached
            access, refresh = refresh_zalo_token(self.cfg, row.refresh_token)
            row.access_token, row.refresh_token = access, refresh
            row.updated_at = datetime.now(UTC)
            self.cached = access
            return access
