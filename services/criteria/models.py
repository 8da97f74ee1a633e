"""Tables the criteria service owns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.types import UtcDateTime


class Base(DeclarativeBase):
    pass


class CatalogVersion(Base):
    """Bộ tiêu chí, one version of it.

    The tree is kept whole as validated JSON: it is read and written as a unit, and
    once a campaign uses a version (``in_use``) it never changes again; a change
    then makes a new version that points back at the one it came from.
    """

    __tablename__ = "catalogs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int] = mapped_column(Integer, index=True)
    unit_type: Mapped[str] = mapped_column(String(50), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    derived_from: Mapped[int | None] = mapped_column(ForeignKey("catalogs.id"), nullable=True)
    tree: Mapped[dict[str, Any]] = mapped_column(JSON)
    in_use: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
