"""Criteria service: criteria sets and the scoring rules (bộ tiêu chí).

Every score in the system is computed here, by ``score_entry``; other
services ask over RPC instead of repeating a rule.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import select

from services.common.base import ServiceBase
from services.common.contracts import CRITERIA
from services.common.db import transaction
from services.common.errors import DomainError, not_found
from services.criteria import parse, rules, xlsx
from services.criteria.catalog import (
    Catalog,
    CatalogInvalid,
    Node,
    ScoreRejected,
    catalog_to_dict,
    find_node,
)
from services.criteria.models import CatalogVersion

# Versions in use never change, so their parsed trees are safe to keep; scoring is
# on the save path of every entry and must not re-validate a whole set each time.
# Keyed by database too: tests run several databases (and so several set 1s) in one
# process.
_in_use_cache: dict[tuple[str, int], Catalog] = {}

MAX_XLSX_BYTES = 2 * 1024 * 1024


def _invalid(exc: CatalogInvalid) -> DomainError:
    return DomainError(
        "catalog_invalid",
        f"Bộ tiêu chí có {len(exc.problems)} lỗi / the criteria set has "
        f"{len(exc.problems)} problem(s)",
        422,
        {"problems": [{"code": p.code, "node": p.path, "message": p.message}
                      for p in exc.problems]},
    )


def _rejected(exc: ScoreRejected) -> DomainError:
    return DomainError("score_rejected", exc.message, 422, {"reason": exc.code})


def _summary(row: CatalogVersion) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "year": row.year, "unit_type": row.unit_type,
            "version": row.version, "derived_from": row.derived_from, "in_use": row.in_use}


class Service(ServiceBase):
    name = CRITERIA

    @rpc(expected_exceptions=DomainError)
    def create_catalog(self, data: dict[str, Any]) -> dict[str, int]:
        catalog = self._parse(data)
        with transaction(self.db):
            row = self._insert(catalog)
        return {"id": row.id}

    @rpc(expected_exceptions=DomainError)
    def import_xlsx(self, content_b64: str) -> dict[str, int]:
        content = base64.b64decode(content_b64)
        if len(content) > MAX_XLSX_BYTES:
            raise DomainError("too_large", "Tệp quá lớn / file too large", 413)
        try:
            catalog = xlsx.catalog_from_xlsx(content)
        except CatalogInvalid as exc:
            raise _invalid(exc) from None
        with transaction(self.db):
            row = self._insert(catalog)
        return {"id": row.id}

    @rpc(expected_exceptions=DomainError)
    def export_xlsx(self, catalog_id: int) -> dict[str, str]:
        catalog = self._catalog(catalog_id)
        return {"content_b64": base64.b64encode(xlsx.catalog_to_xlsx(catalog)).decode()}

    @rpc
    def list_catalogs(self) -> list[dict[str, Any]]:
        query = select(CatalogVersion).order_by(CatalogVersion.year.desc(), CatalogVersion.id)
        return [_summary(row) for row in self.db.scalars(query)]

    @rpc(expected_exceptions=DomainError)
    def get_catalog(self, catalog_id: int) -> dict[str, Any]:
        row = self._row(catalog_id)
        return {**_summary(row), **row.tree}

    @rpc(expected_exceptions=DomainError)
    def update_catalog(self, catalog_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """Edits a version in place until a campaign uses it; afterwards makes a new one."""
        catalog = self._parse(data)
        with transaction(self.db):
            row = self._row(catalog_id, for_update=True)
            if row.in_use:
                new = self._insert(catalog, derived_from=row)
                return {"id": new.id, "version": new.version, "new_version": True}
            row.name, row.year, row.unit_type = catalog.name, catalog.year, catalog.unit_type
            row.tree = catalog_to_dict(catalog)
            return {"id": row.id, "version": row.version, "new_version": False}

    @rpc(expected_exceptions=DomainError)
    def clone_catalog(self, catalog_id: int, year: int, name: str | None = None) -> dict[str, int]:
        try:
            clone = parse.clone_catalog(self._catalog(catalog_id), year, name)
        except CatalogInvalid as exc:
            raise _invalid(exc) from None
        with transaction(self.db):
            row = self._insert(clone)
        return {"id": row.id}

    @rpc(expected_exceptions=DomainError)
    def use_catalog(self, catalog_id: int) -> None:
        with transaction(self.db):
            self._row(catalog_id, for_update=True).in_use = True

    @rpc(expected_exceptions=DomainError)
    def score_entry(self, catalog_id: int, code: str, inputs: dict[str, Any]) -> dict[str, str]:
        node = self._node(catalog_id, code)
        try:
            return {"score": str(rules.score_entry(node, inputs))}
        except ScoreRejected as exc:
            raise _rejected(exc) from None

    @rpc(expected_exceptions=DomainError)
    def compute_result(
        self, catalog_id: int, scores: dict[str, str | None], not_applicable: list[str]
    ) -> dict[str, str | None]:
        catalog = self._catalog(catalog_id)
        try:
            result = rules.compute_result(
                catalog, {c: None if s is None else Decimal(s) for c, s in scores.items()},
                set(not_applicable),
            )
        except ScoreRejected as exc:
            raise _rejected(exc) from None
        return result.as_json(index_cents=True)

    def _parse(self, data: Any) -> Catalog:
        if not isinstance(data, dict):
            raise DomainError("catalog_invalid",
                              "Bộ tiêu chí phải là một đối tượng / a set must be an object", 422,
                              {"problems": []})
        try:
            return parse.parse_catalog(data)
        except CatalogInvalid as exc:
            raise _invalid(exc) from None

    def _insert(
        self, catalog: Catalog, derived_from: CatalogVersion | None = None
    ) -> CatalogVersion:
        row = CatalogVersion(
            name=catalog.name, year=catalog.year, unit_type=catalog.unit_type,
            version=derived_from.version + 1 if derived_from else 1,
            derived_from=derived_from.id if derived_from else None,
            tree=catalog_to_dict(catalog), in_use=False, created_at=datetime.now(UTC),
        )
        self.db.add(row)
        self.db.flush()
        return row

    def _row(self, catalog_id: int, for_update: bool = False) -> CatalogVersion:
        row = self.db.get(CatalogVersion, catalog_id, with_for_update=for_update)
        if row is None:
            raise not_found("bộ tiêu chí / criteria set", str(catalog_id))
        return row

    def _catalog(self, catalog_id: int) -> Catalog:
        key = (str(self.db.get_bind().url), catalog_id)
        cached = _in_use_cache.get(key)
        if cached is not None:
            return cached
        row = self._row(catalog_id)
        catalog = parse.parse_catalog(row.tree)
        if row.in_use:
            _in_use_cache[key] = catalog
        return catalog

    def _node(self, catalog_id: int, code: str) -> Node:
        node = find_node(self._catalog(catalog_id), code)
        if node is None:
            raise not_found("tiêu chí / criterion", code)
        return node
