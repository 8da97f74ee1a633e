"""The shapes of what appraisal's RPCs take and answer (the Protocol: appraisal.py)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from services.common.contracts.shared import Result

QueueStatus = Literal["pending", "appraised", "needs_supplement", "returned"]


class Appraisal(TypedDict):
    """A council score; ``reason`` is required below the unit's (proposed) score, and
    ``needs_supplement`` only in round 1."""

    round: Literal[1, 2]
    score: str | float | None
    reason: NotRequired[str | None]
    needs_supplement: NotRequired[bool]


class RoundOne(TypedDict):
    score: str | None
    reason: str
    needs_supplement: bool
    by: str | None
    at: str | None


class RoundTwo(TypedDict):
    explanation: str
    new_evidence: list[dict[str, Any]]
    proposed_score: str | None
    score: str | None
    reason: str
    by: str | None
    at: str | None


class QueueItem(TypedDict):
    """One criterion of one unit before the council; ``problems`` and
    ``predicted_score`` are submission's precheck."""

    assessment_id: int
    unit_code: str
    unit_name: str
    code: str
    title: str
    max: str
    rule: dict[str, Any] | None
    appraised_by: str | None
    self_score: str | None
    not_applicable: bool
    explanation: str
    evidence: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    predicted_score: str | None
    status: QueueStatus
    version: int
    round1: RoundOne
    returned: bool
    round2: RoundTwo
    survey_score: str | None


class ReturnedCriterion(TypedDict):
    code: str
    title: str
    reason: str


class Returned(TypedDict):
    """``items`` only from the call that returned them (a repeat answers without)."""

    assessment_id: int
    status: str
    round: int
    items: NotRequired[list[ReturnedCriterion]]


class NewComment(TypedDict):
    text: str


class Comment(TypedDict):
    """Trao đổi; ``side`` admin | council | unit."""

    id: int
    code: str
    author: str
    side: str
    text: str
    created_at: str


class SurveySaved(TypedDict):
    saved: int


class Adjustment(TypedDict):
    """Điểm thưởng / điểm trừ, with its reason."""

    kind: Literal["bonus", "penalty"]
    points: str
    reason: str


class Adjustments(TypedDict):
    assessment_id: int
    items: list[Adjustment]
    bonus: str
    penalty: str


class UnitResult(TypedDict):
    """One unit's result as appraisal keeps it: None until finalized (``status``)."""

    assessment_id: int
    unit_code: str
    status: str
    total: str | None
    max: str | None
    index: str | None
    classification: str | None
    rank: int | None
    bonus: str
    penalty: str
    finalized_at: str | None


class CouncilView(UnitResult):
    round: int
    entries: list[QueueItem]
    adjustments: list[Adjustment]


class UnitEntry(TypedDict):
    """A criterion as the unit sees the council's work; ``red`` when it was returned."""

    code: str
    title: str
    returned: bool
    red: bool
    reason: str
    round1: RoundOne | None
    round2: RoundTwo


class UnitView(TypedDict):
    assessment_id: int
    status: str
    round: int
    published: bool
    entries: list[UnitEntry]
    result: UnitResult | None
    adjustments: list[Adjustment]


class CampaignFinalized(TypedDict):
    campaign_id: int
    finalized: int


class Published(TypedDict):
    campaign_id: int
    published_at: str | None
    published_by: str | None
    units: int


class ResultCampaign(TypedDict):
    id: int
    name: str
    year: int
    unit_type: str
    published: bool
    published_at: str | None


class ResultRow(Result):
    assessment_id: int
    unit_code: str
    unit_name: str
    unit_type: str
    rank: int | None
    ranked: bool
    bonus: str
    penalty: str
    proposed_classification: str | None
    finalized_at: str | None


class Results(TypedDict):
    campaign: ResultCampaign
    results: list[ResultRow]


class ReportRow(TypedDict):
    """A field (``kind`` field: mean only) or a criterion across units."""

    code: str
    title: str
    kind: Literal["field", "criterion"]
    max: str
    units: int
    mean: str | None
    min: str | None
    max_score: str | None
    full_score_units: int | None
    returned_units: int


class CriteriaReport(TypedDict):
    """``basis`` final (over the finalized units) or current (the council's scores)."""

    campaign_id: int
    name: str
    year: int
    basis: Literal["final", "current"]
    rows: list[ReportRow]


class FieldScore(TypedDict):
    code: str
    title: str
    score: str
    max: str | None


class TrendYear(TypedDict):
    year: int
    campaign_id: int
    campaign_name: str
    index: str | None
    total: str | None
    max: str | None
    classification: str | None
    rank: int | None
    fields: list[FieldScore]


class Trend(TypedDict):
    unit_code: str
    years: list[TrendYear]


class DeductionRow(TypedDict):
    code: str
    title: str
    max: str
    self_score: str
    round1_score: str
    round1_reason: str
    returned: bool
    round2_explanation: str
    round2_evidence: list[str]
    proposed_score: str | None
    final_score: str


class DeductionsCampaign(TypedDict):
    id: int
    name: str
    year: int


class Deductions(TypedDict):
    """``totals`` of self_score, round1_score, proposed_score and final_score ({} with
    no rows); ``lost`` what the council took off."""

    campaign: DeductionsCampaign
    unit_code: str
    unit_name: str
    rows: list[DeductionRow]
    totals: dict[str, str]
    lost: str
    adjustments: list[Adjustment]
    result: UnitResult
