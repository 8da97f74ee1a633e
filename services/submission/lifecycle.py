"""Gửi, rút lại, trả lại: an assessment's sending, taking back and the admin's
returning of criteria for the supplement window."""

from __future__ import annotations

from typing import Any

from nameko.rpc import rpc
from sqlalchemy import update

from services.common.contracts import (
    ASSESSMENT_RETURNED,
    ASSESSMENT_SUBMITTED,
    ASSESSMENT_WITHDRAWN,
)
from services.common.db import transaction
from services.common.errors import DomainError
from services.common.outbox import record_event
from services.common.times import vn_iso
from services.common.validation import parse
from services.submission import domain, persistence, signed_summary
from services.submission.models import Entry, Window
from services.submission.schemas import (
    Actor,
    SubmitIn,
)


class Lifecycle:
    """Entrypoints of sending, taking back and returning, inherited by the submission Service."""

    @rpc(expected_exceptions=DomainError)
    def submit(self, assessment_id: int, data: dict[str, Any], actor: dict[str, Any],
               idempotency_key: str | None = None) -> dict[str, Any]:
        """Gửi báo cáo: the leader sends once every entry is complete."""
        who = parse(Actor, actor)
        body = parse(SubmitIn, data)
        # The evidence service's checker, before any row is locked: it may take seconds.
        check = self.evidence.check_signed_summary(body.signed_summary.ref)

        def write() -> tuple[dict[str, Any], Window | None]:
            # FOR UPDATE waits for saves holding the row FOR SHARE: none slips in between.
            assessment = persistence.assessment(self.db, assessment_id, lock="update")
            domain.check_leader(who.model_dump(), assessment.unit_code)
            persistence.unit_may_write(assessment)
            campaign = self._campaign(assessment.campaign_id)
            labels = [b["label"] for b in campaign.bands]
            if labels and body.proposed_classification not in labels:
                raise DomainError(
                    "unknown_classification",
                    f"Mức xếp loại đề xuất phải là một trong / the proposed classification "
                    f"must be one of: {', '.join(labels)}", 422, {"allowed": labels})
            window = persistence.open_window(self.db, assessment.campaign_id,
                                       persistence.window_for(assessment.status))
            entries = self._entries(assessment.id)
            pending = [e.code for e in entries if e.status != "complete"]
            if pending:
                raise DomainError(
                    "assessment_incomplete",
                    f"Còn {len(pending)} tiêu chí chưa hoàn thành / {len(pending)} "
                    f"criteria are not complete", 422, {"incomplete": pending})
            # Bound to this assessment's table as it is now, under the lock.
            signature = signed_summary.accept(
                check, assessment.id, signed_summary.digest(self._summary_table(assessment)[0]))
            now = persistence.server_now(self.db)
            before = self._assessment_out(assessment)
            assessment.status = "submitted"
            assessment.proposed_classification = body.proposed_classification
            assessment.signed_summary = {**body.signed_summary.model_dump(), "signature": signature}
            assessment.submitted_at, assessment.submitted_by = now, who.username
            assessment.version += 1
            result = self._result(campaign, entries)
            after = self._assessment_out(assessment)
            persistence.record_change(self.db, assessment.id, None, "submit", who.username, now,
                                before, after)
            record_event(self.db, ASSESSMENT_SUBMITTED, {
                "assessment_id": assessment.id, "campaign_id": assessment.campaign_id,
                "unit_code": assessment.unit_code, "round": assessment.round,
                "proposed_classification": assessment.proposed_classification,
                "submitted_by": who.username, "submitted_at": vn_iso(now), **result})
            return {**after, **result}, window

        return self._idempotent(who, idempotency_key, "submit",
                                (assessment_id, body.model_dump(mode="json")), write)

    @rpc(expected_exceptions=DomainError)
    def withdraw(self, assessment_id: int, actor: dict[str, Any],
                 idempotency_key: str | None = None) -> dict[str, Any]:
        """Rút báo cáo: the leader takes the sending back to edit, before the lock."""
        who = parse(Actor, actor)

        def write() -> tuple[dict[str, Any], Window | None]:
            assessment = persistence.assessment(self.db, assessment_id, lock="update")
            domain.check_leader(who.model_dump(), assessment.unit_code)
            if assessment.status != "submitted":
                raise DomainError("not_submitted",
                                  "Đơn vị chưa gửi báo cáo / the assessment was not sent", 409)
            # Back to the state it was sent from: round 1's draft, or a returned round.
            sent_from = "returned" if assessment.round > 1 else "draft"
            window = persistence.open_window(self.db, assessment.campaign_id,
                                             persistence.window_for(sent_from))
            now = persistence.server_now(self.db)
            before = self._assessment_out(assessment)
            assessment.status = sent_from
            assessment.submitted_at = assessment.submitted_by = assessment.signed_summary = None
            assessment.version += 1
            after = self._assessment_out(assessment)
            persistence.record_change(self.db, assessment.id, None, "withdraw", who.username, now,
                                before, after)
            record_event(self.db, ASSESSMENT_WITHDRAWN, {
                "assessment_id": assessment.id, "campaign_id": assessment.campaign_id,
                "unit_code": assessment.unit_code, "round": assessment.round,
                "withdrawn_by": who.username, "withdrawn_at": vn_iso(now)})
            campaign = self._campaign(assessment.campaign_id)
            return {**after, **self._result(campaign, self._entries(assessment.id))}, window

        return self._idempotent(who, idempotency_key, "withdraw", (assessment_id,), write)

    @rpc(expected_exceptions=DomainError)
    def return_entries(self, assessment_id: int, codes: list[str],
                       actor: dict[str, Any]) -> dict[str, Any]:
        """Trả lại: reopens a sent assessment for the returned criteria only."""
        who = self._admin(actor)
        with transaction(self.db):
            assessment = persistence.assessment(self.db, assessment_id, lock="update")
            if assessment.status != "submitted":
                raise DomainError("not_submitted",
                                  "Đơn vị chưa gửi báo cáo / the assessment was not sent", 409)
            nodes = persistence.nodes(self.db, assessment.campaign_id)
            unknown = sorted(c for c in codes if c not in nodes or not nodes[c].is_leaf)
            if unknown or not codes:
                raise DomainError("unknown_code",
                                  f"Mã tiêu chí không hợp lệ / bad codes: {', '.join(unknown)}",
                                  422, {"codes": unknown})
            now = persistence.server_now(self.db)
            self.db.execute(update(Entry).where(Entry.assessment_id == assessment.id)
                            .values(returned=Entry.code.in_(codes)))
            self.db.execute(update(Entry).where(Entry.assessment_id == assessment.id,
                                                Entry.code.in_(codes))
                            .values(status="returned", version=Entry.version + 1))
            assessment.status = "returned"
            assessment.round += 1
            assessment.version += 1
            persistence.record_change(self.db, assessment.id, None, "return", who.username, now,
                                None, {"codes": sorted(codes), "round": assessment.round})
            record_event(self.db, ASSESSMENT_RETURNED, {
                "assessment_id": assessment.id, "campaign_id": assessment.campaign_id,
                "unit_code": assessment.unit_code, "codes": sorted(codes),
                "round": assessment.round})
            return self._assessment_out(assessment)
