"""submission: campaigns, windows, the units' assessments (đợt đánh giá, thời hạn, tự đánh giá).

Actor is the gateway's ``Principal.as_actor()``; times are ISO 8601 in Asia/Ho_Chi_Minh;
decimals are strings. Every write is refused with 423 ``window_locked`` /
``window_not_open`` outside its window, judged by the database's clock inside the
write's transaction; 423 ``assessment_submitted`` once sent; 403 ``forbidden_unit`` /
``not_assigned`` / ``leader_only``. The same Idempotency-Key (per username) twice
answers the first answer and changes nothing; reused with another request, 422
``idempotency_key_reused``. The shapes are in submission_shapes.py.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from services.common.contracts.shared import Actor, Change, Created, ServiceRpc
from services.common.contracts.submission_shapes import (
    Assessment,
    AssessmentHead,
    AssessmentResult,
    Assigned,
    AttachedEvidence,
    Campaign,
    CampaignSummary,
    EntryData,
    EntryWritten,
    NewCampaign,
    NewWindow,
    PendingUnit,
    PrecheckProblem,
    Progress,
    Sending,
    Summary,
    Supplement,
    SupplementData,
    Supplemented,
    Window,
    WindowKind,
    Writable,
)

# The summary to sign carries "cchc-summary:<assessment id>:<digest>" (its PDF's
# Keywords and the footer's text), where digest is submission.summary's "digest" (the
# SHA-256 of what the table shows). The evidence checker lists the markers each
# signature covers; submission.submit accepts a signed summary only when one intact
# signature covers this assessment's marker with its current digest.
SUMMARY_MARKER_PREFIX: Final = "cchc-summary"
# Where the gateway stores signed summaries in the shared file store.
SIGNED_SUMMARY_PREFIX: Final = "signed-summaries/"


class SubmissionRpc(ServiceRpc, Protocol):
    # --- Campaigns and windows (services/submission/campaigns.py) ------------------------
    def create_campaign(self, data: NewCampaign, actor: Actor) -> Created:
        """Admin; 422 ``unknown_units``."""
        ...

    def list_campaigns(self) -> list[CampaignSummary]:
        ...

    def get_campaign(self, campaign_id: int) -> Campaign:
        ...

    def add_window(self, campaign_id: int, data: NewWindow, actor: Actor) -> Window:
        """Opens a later round (appraisal, supplement); admin; 409 ``window_exists``."""
        ...

    def progress(self, campaign_id: int) -> list[Progress]:
        """Per unit: criteria complete / total, sent or not, last change."""
        ...

    def pending_units(self, campaign_id: int,
                      kind: WindowKind = "self_assessment") -> list[PendingUnit]:
        """Units that have not sent in that window, with their incomplete criteria
        (supplement: only returned criteria count); notify's reminders."""
        ...

    # --- What an assessment shows (views.py) ---------------------------------------------
    def get_assessment(self, campaign_id: int, unit_code: str, actor: Actor) -> Assessment:
        ...

    def get_assessment_by_id(self, assessment_id: int, actor: Actor) -> Assessment:
        ...

    def history(self, assessment_id: int, actor: Actor) -> list[Change]:
        ...

    def precheck(self, assessment_id: int, actor: Actor) -> list[PrecheckProblem]:
        """Kiểm tra trước khi gửi: before sending, what the council will refuse per
        criterion."""
        ...

    def summary(self, assessment_id: int, actor: Actor) -> Summary:
        """What the summary to sign shows; the gateway lays it out as PDF and XLSX (the
        PDF carries ``marker``: see SUMMARY_MARKER_PREFIX)."""
        ...

    # --- A unit's writes to its entries (entries.py) ---------------------------------------
    def assign(self, assessment_id: int, assignments: dict[str, str | None], actor: Actor,
               idempotency_key: str | None = None) -> Assigned:
        """Phân công {code: username | None}, by the leader; assigning a field assigns
        every leaf under it. 422 ``assignee_not_in_unit`` {usernames}: only people of
        the unit (identity.list_users)."""
        ...

    def save_entry(self, assessment_id: int, code: str, data: EntryData, actor: Actor,
                   if_match: Any = None, idempotency_key: str | None = None) -> EntryWritten:
        """Cập nhật: one criterion's score inputs, not-applicable flag and explanation.
        The score from criteria.score_entry; 422 ``score_rejected`` (from criteria),
        ``not_applicable_not_allowed``; 409 ``stale_version`` {current_version}."""
        ...

    def complete_entry(self, assessment_id: int, code: str, actor: Actor,
                       if_match: Any = None, idempotency_key: str | None = None
                       ) -> EntryWritten:
        """422 ``explanation_missing`` | ``evidence_missing`` | ``score_missing`` with
        extra {"reasons": [...]}."""
        ...

    def attach_evidence(self, assessment_id: int, code: str, evidence: AttachedEvidence,
                        actor: Actor) -> EntryWritten:
        """Called by the evidence service; same scope and lock as a save."""
        ...

    def check_writable(self, assessment_id: int, code: str, actor: Actor) -> Writable:
        """Raises what a write of this criterion would (403, 404, 423) without writing;
        evidence asks it before a signature check. Answers the criterion's campaign."""
        ...

    def detach_evidence(self, assessment_id: int, code: str, evidence_id: str | int,
                        actor: Actor) -> EntryWritten:
        """Called by the evidence service; same scope and lock as a save."""
        ...

    # --- Sending, taking back, returning (lifecycle.py) ------------------------------------
    def submit(self, assessment_id: int, data: Sending, actor: Actor,
               idempotency_key: str | None = None) -> AssessmentResult:
        """Gửi báo cáo, by the leader once every entry is complete. Asks
        evidence.check_signed_summary first. 422 ``assessment_incomplete``
        {incomplete: [code]}, ``unknown_classification``, ``signed_summary_unsigned`` |
        ``signed_summary_signature_broken`` | ``signed_summary_outdated`` |
        ``signed_summary_other_assessment`` | ``signed_summary_not_generated``."""
        ...

    def withdraw(self, assessment_id: int, actor: Actor,
                 idempotency_key: str | None = None) -> AssessmentResult:
        """Rút báo cáo: the leader takes a sending back to edit while its window is still
        open (423 after the lock); 409 ``not_submitted`` when there is nothing to take
        back."""
        ...

    def return_entries(self, assessment_id: int, codes: list[str],
                       actor: Actor) -> AssessmentHead:
        """Trả lại, by the admin: reopens the returned criteria for the supplement
        window; 409 ``not_submitted``, 422 ``unknown_code``."""
        ...

    # --- Round 2 (rounds.py) -----------------------------------------------------------
    def supplement_entry(self, assessment_id: int, code: str, data: SupplementData,
                         actor: Actor) -> Supplemented:
        """Bổ sung, by the unit, returned criteria only, in the supplement window: 423
        ``not_returned`` / ``window_locked`` / ``assessment_submitted``, 422
        ``score_rejected`` (proposed score outside [0, max]), ``explanation_missing``."""
        ...

    def round_two(self, assessment_id: int, actor: Actor) -> dict[str, Supplement]:
        """Round 2 of every returned criterion, by code."""
        ...
