"""appraisal: the council, results, ranking (hội đồng thẩm định, kết quả, xếp hạng).

Scores are decimal strings. The council's windows (appraisal, final_appraisal) lock at
their instant, judged in appraisal's transaction by its database clock: 423. Actors are
signed by the gateway (``Principal.signed_actor()``) and checked. appraisal listens to
submission's assessment_submitted / assessment_withdrawn / window_opened and calls
submission.get_campaign, get_assessment_by_id, precheck, round_two, return_entries and
criteria.get_catalog. The shapes are in appraisal_shapes.py.
"""

from __future__ import annotations

from typing import Any, Protocol

from services.common.contracts.appraisal_shapes import (
    Adjustment,
    Adjustments,
    Appraisal,
    CampaignFinalized,
    Comment,
    CouncilView,
    CriteriaReport,
    Deductions,
    NewComment,
    Published,
    QueueItem,
    QueueStatus,
    Results,
    Returned,
    SurveySaved,
    Trend,
    UnitResult,
    UnitView,
)
from services.common.contracts.shared import Change, ServiceRpc, SignedActor


class AppraisalRpc(ServiceRpc, Protocol):
    # --- Council -------------------------------------------------------------------
    def queue(self, campaign_id: int, actor: SignedActor, unit: str | None = None,
              status: QueueStatus | None = None) -> list[QueueItem]:
        """The actor's department's criteria of every unit that sent (the set's
        ``appraised_by``), optionally of one unit or in one state."""
        ...

    def appraise(self, assessment_id: int, code: str, body: Appraisal,
                 actor: SignedActor) -> QueueItem:
        """A council score for one criterion in round 1 or 2; 403 ``other_department``,
        422 ``score_rejected`` | ``reason_required``, 409 ``round_closed`` |
        ``not_returned`` | ``assessment_finalized``, 423 outside its window."""
        ...

    def return_criteria(self, assessment_id: int, actor: SignedActor) -> Returned:
        """Trả lại, by the admin: the flagged criteria go back to the unit for round 2
        (calls submission.return_entries); 409 ``nothing_flagged`` | ``not_returnable``."""
        ...

    def assessment_view(self, assessment_id: int,
                        actor: SignedActor) -> CouncilView | UnitView:
        """The council's work on one unit: all of it for admin and council; for the
        unit, its returned criteria with reasons, and everything once published."""
        ...

    def history(self, assessment_id: int, actor: SignedActor) -> list[Change]:
        """Every council and admin change of this assessment."""
        ...

    def comments(self, assessment_id: int, code: str, actor: SignedActor) -> list[Comment]:
        """The thread between council and unit on one criterion."""
        ...

    def add_comment(self, assessment_id: int, code: str, body: NewComment,
                    actor: SignedActor) -> Comment:
        """403 ``forbidden_comment``."""
        ...

    # --- Results -------------------------------------------------------------------
    def set_survey(self, campaign_id: int, scores: dict[str, dict[str, Any]],
                   actor: SignedActor) -> SurveySaved:
        """Điểm điều tra xã hội học {unit_code: {code: score}}, by the admin; 422
        ``not_survey`` | ``unknown_units``, 409 ``results_published`` |
        ``assessment_finalized``."""
        ...

    def set_adjustments(self, assessment_id: int, items: list[Adjustment],
                        actor: SignedActor) -> Adjustments:
        """Điểm thưởng / điểm trừ with reasons, by the admin, replacing the unit's; 422
        ``adjustment_over_cap`` past the set's bonus_max / penalty_max."""
        ...

    def finalize(self, assessment_id: int, actor: SignedActor) -> UnitResult:
        """Chốt kết quả of one unit: final scores, total, index, band; 422
        ``appraisal_incomplete`` {missing}."""
        ...

    def finalize_campaign(self, campaign_id: int, actor: SignedActor) -> CampaignFinalized:
        """Every sent unit of the campaign at once (all or nothing); 422
        ``appraisal_incomplete`` {missing}."""
        ...

    def publish(self, campaign_id: int, actor: SignedActor) -> Published:
        """Công bố kết quả: ranks within each unit type; 409 ``not_finalized``
        {unit_codes}; publishing again changes nothing."""
        ...

    def results(self, campaign_id: int, actor: SignedActor) -> Results:
        """403 ``results_not_published`` before publication for anyone but admin and
        appraisers."""
        ...

    def criteria_report(self, campaign_id: int, actor: SignedActor) -> CriteriaReport:
        """Per field and criterion across units."""
        ...

    def trend(self, unit_code: str, actor: SignedActor) -> Trend:
        """The unit's published index and fields, year by year."""
        ...

    def deductions(self, assessment_id: int, actor: SignedActor) -> Deductions:
        """Bảng điểm bị trừ (Hà Tĩnh's appendix) of one unit."""
        ...
