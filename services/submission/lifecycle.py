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
from services.submission import domain, signed_summary, store
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

        def work() -> tuple[dict[str, Any], Window | None]:
            # FOR UPDATE waits for saves holding the row FOR SHARE: none slips in between.
            found = store.assessment(self.db, assessment_id, lock="update")
            domain.check_leader(who.model_dump(), found.unit_code)
            store.unit_may_write(found)
            campaign = self._campaign(found.campaign_id)
            labels = [b["label"] for b in campaign.bands]
            if labels and body.proposed_classification not in labels:
                raise DomainError(
                    "unknown_classification",
                    f"Mức xếp loại đề xuất phải là một trong / the proposed classification "
                    f"must be one of: {', '.join(labels)}", 422, {"allowed": labels})
            window = store.open_window(self.db, found.campaign_id,
                                       store.window_for(found.status))
            entries = self._entries(found.id)
            pending = [e.code for e in entries if e.status != "complete"]
            if pending:
                raise DomainError(
                    "assessment_incomplete",
                    f"Còn {len(pending)} tiêu chí chưa hoàn thành / {len(pending)} "
                    f"criteria are not complete", 422, {"incomplete": pending})
            # Bound to this assessment's table as it is now, under the lock.
            signature = signed_summary.accept(
                check, found.id, signed_summary.digest(self._summary_table(found)[0]))
            now = store.server_now(self.db)
            before = self._assessment_out(found)
            found.status = "submitted"
            found.proposed_classification = body.proposed_classification
            found.signed_summary = {**body.signed_summary.model_dump(), "signature": signature}
            found.submitted_at, found.submitted_by = now, who.username
            found.version += 1
            result = self._result(campaign, entries)
            after = self._assessment_out(found)
            store.record_change(self.db, found.id, None, "submit", who.username, now,
                                before, after)
            record_event(self.db, ASSESSMENT_SUBMITTED, {
                "assessment_id": found.id, "campaign_id": found.campaign_id,
                "unit_code": found.unit_code, "round": found.round,
                "proposed_classification": found.proposed_classification,
                "submitted_by": who.username, "submitted_at": vn_iso(now), **result})
            return {**after, **result}, window

        return self._idempotent(who, idempotency_key, "submit",
                                (assessment_id, body.model_dump(mode="json")), work)

    @rpc(expected_exceptions=DomainError)
    def withdraw(self, assessment_id: int, actor: dict[str, Any],
                 idempotency_key: str | None = None) -> dict[str, Any]:
        """Rút báo cáo: the leader takes the sending back to edit, before the lock."""
        who = parse(Actor, actor)

        def work() -> tuple[dict[str, Any], Window | None]:
            found = store.assessment(self.db, assessment_id, lock="update")
            domain.check_leader(who.model_dump(), found.unit_code)
            if found.status != "submitted":
                raise DomainError("not_submitted",
                                  "Đơn vị chưa gửi báo cáo / the assessment was not sent", 409)
            # Back to the state it was sent from: round 1's draft, or a returned round.
            sent_from = "returned" if found.round > 1 else "draft"
            window = store.open_window(self.db, found.campaign_id, store.window_for(sent_from))
            now = store.server_now(self.db)
            before = self._assessment_out(found)
            found.status = sent_from
            found.submitted_at = found.submitted_by = found.signed_summary = None
            found.version += 1
            after = self._assessment_out(found)
            store.record_change(self.db, found.id, None, "withdraw", who.username, now,
                                before, after)
            record_event(self.db, ASSESSMENT_WITHDRAWN, {
                "assessment_id": found.id, "campaign_id": found.campaign_id,
                "unit_code": found.unit_code, "round": found.round,
                "withdrawn_by": who.username, "withdrawn_at": vn_iso(now)})
            campaign = self._campaign(found.campaign_id)
            return {**after, **self._result(campaign, self._entries(found.id))}, window

        return self._idempotent(who, idempotency_key, "withdraw", (assessment_id,), work)

    @rpc(expected_exceptions=DomainError)
    def return_entries(self, assessment_id: int, codes: list[str],
                       actor: dict[str, Any]) -> dict[str, Any]:
        """Trả lại: reopens a sent assessment for the returned criteria only."""
        who = self._admin(actor)
        with transaction(self.db):
            found = store.assessment(self.db, assessment_id, lock="update")
            if found.status != "submitted":
                raise DomainError("not_submitted",
                                  "Đơn vị chưa gửi báo cáo / the assessment was not sent", 409)
            nodes = store.nodes(self.db, found.campaign_id)
            unknown = sorted(c for c in codes if c not in nodes or not nodes[c].is_leaf)
            if unknown or not codes:
                raise DomainError("unknown_code",
                                  f"Mã tiêu chí không hợp lệ / bad codes: {', '.join(unknown)}",
                                  422, {"codes": unknown})
            now = store.server_now(self.db)
            self.db.execute(update(Entry).where(Entry.assessment_id == found.id)
                            .values(returned=Entry.code.in_(codes)))
            self.db.execute(update(Entry).where(Entry.assessment_id == found.id,
                                                Entry.code.in_(codes))
                            .values(status="returned", version=Entry.version + 1))
            found.status, found.round, found.version = "returned", found.round + 1, \
                found.version + 1
            store.record_change(self.db, found.id, None, "return", who.username, now,
                                None, {"codes": sorted(codes), "round": found.round})
            record_event(self.db, ASSESSMENT_RETURNED, {
                "assessment_id": found.id, "campaign_id": found.campaign_id,
                "unit_code": found.unit_code, "codes": sorted(codes), "round": found.round})
            return self._assessment_out(found)
