"""Events: published by the service that owns the fact, through its outbox.

Each is (source service, event type) with a payload TypedDict; every payload carries
``event_id`` (added by the outbox, services/common/outbox.py) so that consumers can drop
a redelivery. ``EVENTS`` is what tests/test_contracts.py checks publishers and handlers
against.
"""

from __future__ import annotations

from typing import Any, Final, TypedDict

from services.common.contracts.identity import Account
from services.common.contracts.names import APPRAISAL, IDENTITY, SUBMISSION

# Published by identity
USER_CREATED: Final = "user_created"

# Published by submission
ASSESSMENT_SUBMITTED: Final = "assessment_submitted"
ASSESSMENT_WITHDRAWN: Final = "assessment_withdrawn"
ASSESSMENT_RETURNED: Final = "assessment_returned"
WINDOW_LOCKED: Final = "window_locked"
WINDOW_OPENED: Final = "window_opened"
ENTRIES_ASSIGNED: Final = "entries_assigned"

# Published by appraisal
CRITERION_APPRAISED: Final = "criterion_appraised"
CRITERIA_RETURNED: Final = "criteria_returned"
ASSESSMENT_FINALIZED: Final = "assessment_finalized"
RESULTS_PUBLISHED: Final = "results_published"


class UserCreated(Account):
    """identity.user_created: an account was issued."""

    event_id: str


class AssessmentSubmitted(TypedDict):
    """submission.assessment_submitted: a unit sent (round 1 or 2), with its result."""

    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    round: int
    proposed_classification: str | None
    submitted_by: str
    submitted_at: str
    total: str
    max: str
    index: str | None
    classification: str | None


class AssessmentWithdrawn(TypedDict):
    """submission.assessment_withdrawn: the leader took the sending back."""

    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    round: int
    withdrawn_by: str
    withdrawn_at: str


class AssessmentReturned(TypedDict):
    """submission.assessment_returned: criteria reopened for the supplement window."""

    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    codes: list[str]
    round: int


class WindowLocked(TypedDict):
    """submission.window_locked: once per window, after every write accepted before its
    instant has committed."""

    event_id: str
    campaign_id: int
    window_id: int
    kind: str
    locks_at: str


class WindowOpened(TypedDict):
    """submission.window_opened: once per window, the windows created with the campaign
    included."""

    event_id: str
    campaign_id: int
    campaign_name: str
    year: int
    window_id: int
    kind: str
    opens_at: str
    locks_at: str
    unit_codes: list[str]
    reminders_minutes_before_lock: list[int]


class Assignment(TypedDict):
    code: str
    title: str
    assignee: str | None


class EntriesAssigned(TypedDict):
    """submission.entries_assigned: phân công, what is now whose."""

    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    assignments: list[Assignment]
    actor: str


class CriterionAppraised(TypedDict):
    """appraisal.criterion_appraised: a council score in round 1 or 2."""

    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    code: str
    round: int
    score: str | None
    reason: str | None
    needs_supplement: bool
    appraiser: str


class ReturnedItem(TypedDict):
    code: str
    title: str
    reason: str | None


class CriteriaReturned(TypedDict):
    """appraisal.criteria_returned: after submission reopened them for the supplement,
    with the council's reasons."""

    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    round: int
    items: list[ReturnedItem]


class AssessmentFinalized(TypedDict):
    """appraisal.assessment_finalized: a unit's final result."""

    event_id: str
    assessment_id: int
    campaign_id: int
    unit_code: str
    total: str
    max: str
    index: str | None
    classification: str | None


class ResultsPublished(TypedDict):
    """appraisal.results_published: a campaign's results and ranks are public."""

    event_id: str
    campaign_id: int
    name: str
    year: int
    published_at: str
    unit_codes: list[str]


# Every event each service publishes, with its payload's shape.
EVENTS: Final[dict[str, dict[str, type[Any]]]] = {
    IDENTITY: {USER_CREATED: UserCreated},
    SUBMISSION: {
        ASSESSMENT_SUBMITTED: AssessmentSubmitted,
        ASSESSMENT_WITHDRAWN: AssessmentWithdrawn, ASSESSMENT_RETURNED: AssessmentReturned,
        WINDOW_LOCKED: WindowLocked, WINDOW_OPENED: WindowOpened,
        ENTRIES_ASSIGNED: EntriesAssigned},
    APPRAISAL: {
        CRITERION_APPRAISED: CriterionAppraised, CRITERIA_RETURNED: CriteriaReturned,
        ASSESSMENT_FINALIZED: AssessmentFinalized, RESULTS_PUBLISHED: ResultsPublished},
}
