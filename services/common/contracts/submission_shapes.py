"""The shapes of what submission's RPCs take and answer (the Protocol: submission.py)."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

from services.common.contracts.criteria import Band
from services.common.contracts.shared import Result

WindowKind = Literal["self_assessment", "appraisal", "supplement", "final_appraisal"]


class WindowTimes(TypedDict):
    """With their offset (+07:00); ``locks_at`` after ``opens_at``."""

    opens_at: str
    locks_at: str


class NewWindow(WindowTimes):
    kind: WindowKind


class Window(NewWindow):
    state: Literal["not_open", "open", "locked"]
    is_open: bool


class NewCampaign(TypedDict):
    """``windows`` needs ``self_assessment``; ``unranked_unit_codes`` is a subset of
    ``unit_codes``; reminders default to [4320, 1440, 120] minutes before each lock."""

    name: str
    year: int
    catalog_id: int
    unit_codes: list[str]
    windows: dict[WindowKind, WindowTimes]
    data_cutoff_date: NotRequired[str | None]  # YYYY-MM-DD
    reminders_minutes_before_lock: NotRequired[list[int]]
    unranked_unit_codes: NotRequired[list[str]]


class CampaignSummary(TypedDict):
    id: int
    name: str
    year: int
    catalog_id: int


class CampaignUnit(TypedDict):
    unit_code: str
    unit_name: str
    assessment_id: int


class Campaign(CampaignSummary):
    bands: list[Band]
    data_cutoff_date: str | None  # YYYY-MM-DD
    reminders_minutes_before_lock: list[int]
    unranked_unit_codes: list[str]
    units: list[CampaignUnit]
    windows: dict[WindowKind, Window]


class Progress(TypedDict):
    """One unit's progress: ``total`` criteria, ``done`` complete."""

    assessment_id: int
    unit_code: str
    unit_name: str
    status: str
    submitted: bool
    submitted_at: str | None
    total: int
    done: int
    last_change: str | None


class Writable(TypedDict):
    """check_writable's answer: the campaign the criterion is scored in."""

    campaign_id: int
    catalog_id: int
    year: int


class AttachedEvidence(TypedDict):
    """A document of the evidence service as the entry keeps it (precheck reads them)."""

    id: int | str
    name: str
    sha256: NotRequired[str]
    checks: NotRequired[dict[str, Any]]
    doc_number: NotRequired[str | None]
    doc_date: NotRequired[str | None]
    title: NotRequired[str | None]
    section: NotRequired[str | None]


class Entry(TypedDict):
    """One criterion of an assessment (tiêu chí), as the unit fills it in."""

    code: str
    title: str
    max: str
    rule: dict[str, Any] | None
    evidence_rule: str
    not_applicable_allowed: bool
    assignee: str | None
    inputs: dict[str, Any]
    self_score: str | None
    not_applicable: bool
    explanation: str
    evidence: list[AttachedEvidence]
    status: str
    returned: bool
    version: int
    updated_at: str | None
    updated_by: str | None
    appraisal: None


class EntryWritten(Entry):
    """An entry after a write, with its assessment's running totals: the applicable
    entries' sums in SQL, then services/common/scoring.py (criteria.compute_result's
    answer)."""

    totals: Result


class AssessmentHead(TypedDict):
    """``signed_summary`` once sent: {ref, filename, sha256, size, signature: {state,
    signer, issuer, signing_time, trusted}} (an untrusted signer is reported, not
    refused)."""

    id: int
    campaign_id: int
    unit_code: str
    unit_name: str
    status: str
    round: int
    version: int
    proposed_classification: str | None
    signed_summary: dict[str, Any] | None
    submitted_at: str | None
    submitted_by: str | None


class AssessmentResult(AssessmentHead, Result):
    pass


class Assessment(AssessmentResult):
    """Bản tự đánh giá of one unit in one campaign."""

    entries: list[Entry]


class AssignedEntry(TypedDict):
    code: str
    assignee: str | None
    version: int


class Assigned(TypedDict):
    assigned: list[AssignedEntry]


class EntryData(TypedDict, total=False):
    """A save: the inputs the criterion's rule takes (option | done+planned | count |
    self_score) and the text fields; fields left out keep their stored value."""

    option: str | int | None
    done: str | float | None
    planned: str | float | None
    count: str | float | None
    self_score: str | float | None
    not_applicable: bool | None
    explanation: str | None


class SignedSummaryRef(TypedDict):
    """The signed summary as the gateway stored it; its bytes never cross the bus."""

    ref: str
    filename: str
    sha256: str
    size: int


class Sending(TypedDict):
    signed_summary: SignedSummaryRef
    proposed_classification: str


class PrecheckProblem(TypedDict):
    """``problem`` one of signature_absent | signature_broken | file_type_refused |
    doc_number_letter_suffix | doc_date_after_cutoff | explanation_no_citation |
    evidence_missing; ``predicted_score`` "0" when the council will score 0."""

    code: str
    problem: str
    detail: str
    predicted_score: str


class SummaryRow(TypedDict):
    code: str
    title: str
    depth: int
    max: str
    is_leaf: bool
    score: str | None
    not_applicable: bool
    explanation: str
    evidence: list[str]
    status: str | None


class CampaignName(TypedDict):
    id: int
    name: str
    year: int


class Summary(Result):
    """What the summary to sign shows; ``marker`` is "cchc-summary:<id>:<digest>"."""

    campaign: CampaignName
    unit_code: str
    unit_name: str
    status: str
    generated_at: str
    digest: str
    marker: str
    rows: list[SummaryRow]


class Incomplete(TypedDict):
    code: str
    title: str
    assignee: str | None


class PendingUnit(TypedDict):
    assessment_id: int
    unit_code: str
    unit_name: str
    status: str
    incomplete: list[Incomplete]


class SupplementData(TypedDict):
    explanation: str
    proposed_score: NotRequired[str | float | None]


class Supplement(TypedDict):
    """Round 2 of one returned criterion (bổ sung)."""

    code: str
    explanation: str
    proposed_score: str | None
    updated_at: str | None
    updated_by: str | None


class Supplemented(Supplement):
    status: str
    version: int
    problems: list[str]
