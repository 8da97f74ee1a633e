"""criteria: the sets of criteria (bộ tiêu chí) and their scoring.

Decimals travel as strings, e.g. "1.25".
"""

from __future__ import annotations

from typing import Any, Protocol, Required, TypedDict

from services.common.contracts.shared import Created, Result, ServiceRpc


class Band(TypedDict):
    """Mức xếp loại: the lowest index it takes, and its name."""

    min: str
    label: str


class CriterionNode(TypedDict, total=False):
    """A field or criterion of a set's tree. Leaves carry the rule and the per-criterion
    settings; a parent the settings it declares for the nodes under it, and children."""

    code: Required[str]
    title: Required[str]
    max: Required[str]
    rule: dict[str, Any] | None  # {kind: options|ratio|range|deduction|survey, ...}
    evidence: str
    not_applicable_allowed: bool
    appraised_by: str | None
    form_allowed: bool
    children: list[CriterionNode]


class CatalogSummary(TypedDict):
    id: int
    name: str
    year: int
    unit_type: str
    version: int
    derived_from: int | None
    in_use: bool


class Catalog(CatalogSummary):
    """A set with its tree; ``bonus_max`` / ``penalty_max`` cap the bonus and penalty
    points ("0" when the set has none)."""

    bands: list[Band]
    nodes: list[CriterionNode]
    bonus_max: str
    penalty_max: str


class CatalogUpdated(TypedDict):
    id: int
    version: int
    new_version: bool


class Score(TypedDict):
    score: str


class XlsxFile(TypedDict):
    content_b64: str


class CriteriaRpc(ServiceRpc, Protocol):
    def create_catalog(self, data: dict[str, Any]) -> Created:
        """``data`` is API.md's YAML/JSON shape; 422 DomainError ``catalog_invalid`` with
        extra {"problems": [{code, node, message}]}."""
        ...

    def import_xlsx(self, content_b64: str) -> Created:
        """The XLSX template, base64; 413 ``too_large`` past 2 MiB, 422
        ``catalog_invalid`` as create_catalog."""
        ...

    def export_xlsx(self, catalog_id: int) -> XlsxFile:
        """The same template back."""
        ...

    def list_catalogs(self) -> list[CatalogSummary]:
        ...

    def get_catalog(self, catalog_id: int) -> Catalog:
        ...

    def update_catalog(self, catalog_id: int, data: dict[str, Any]) -> CatalogUpdated:
        """Edits the version in place until a campaign uses it, else makes a new version."""
        ...

    def clone_catalog(self, catalog_id: int, year: int, name: str | None = None) -> Created:
        """The set for another year (a new, unused version); 422 ``catalog_invalid``."""
        ...

    def use_catalog(self, catalog_id: int) -> None:
        """A campaign uses it: immutable from now on."""
        ...

    def score_entry(self, catalog_id: int, code: str, inputs: dict[str, Any]) -> Score:
        """Inputs by rule: options {option}, ratio {done, planned}, range {self_score},
        deduction {count}; 422 DomainError ``score_rejected`` with the reason."""
        ...

    def compute_result(self, catalog_id: int, scores: dict[str, str | None],
                       not_applicable: list[str]) -> Result:
        """``scores`` by code; services/common/scoring.py, classification None below
        every band."""
        ...
