"""Appraisal service: council rounds, results, bands, ranking (thẩm định, xếp hạng).

Entrypoints only; each job lives in its own module:
``sync`` (copies of campaigns, sets, windows and sendings), ``lock`` (the council's
windows lock at their instant), ``council`` (queue, scores per round, history),
``rounds`` (returning criteria for round 2), ``comments``, ``results`` (survey,
bonus and penalty, final results, publication), ``reports`` (per criterion, trend,
deductions table). Scores are decimal strings on the bus.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nameko.rpc import RpcProxy, rpc
from sqlalchemy import select

from services.appraisal import comments, council, lock, reports, results, rounds, sync
from services.appraisal.models import Assessment, Campaign, Entry, Node
from services.common.actor import verified_actor
from services.common.base import ServiceBase
from services.common.contracts import (
    APPRAISAL,
    ASSESSMENT_SUBMITTED,
    ASSESSMENT_WITHDRAWN,
    CRITERIA,
    SUBMISSION,
    WINDOW_OPENED,
)
from services.common.db import transaction
from services.common.errors import DomainError, not_found
from services.common.events import retrying_event_handler
from services.common.outbox import claim_event
from services.common.times import vn_iso

COUNCIL_ROLES = {"admin", "appraiser"}


class Service(ServiceBase):
    name = APPRAISAL

    submission = RpcProxy(SUBMISSION)
    criteria = RpcProxy(CRITERIA)

    # --- What the units send ----------------------------------------------------------

    @retrying_event_handler(SUBMISSION, ASSESSMENT_SUBMITTED)
    def on_assessment_submitted(self, payload: dict[str, Any]) -> None:
        """A unit sent (round 1 or 2): copy what the council will appraise."""
        campaign = self._campaign(payload["campaign_id"])
        sending = sync.read_sending(self.submission, payload["assessment_id"])
        with transaction(self.db):
            if claim_event(self.db, payload["event_id"], "appraisal.on_assessment_submitted"):
                sync.store_sending(self.db, campaign, sending)

    @retrying_event_handler(SUBMISSION, ASSESSMENT_WITHDRAWN)
    def on_assessment_withdrawn(self, payload: dict[str, Any]) -> None:
        """The leader took the sending back: off the council's queue until sent again."""
        with transaction(self.db):
            if claim_event(self.db, payload["event_id"], "appraisal.on_assessment_withdrawn"):
                assessment = self.db.get(Assessment, payload["assessment_id"])
                if assessment is not None and assessment.status in ("sent", "resent"):
                    assessment.status = "withdrawn"

    @retrying_event_handler(SUBMISSION, WINDOW_OPENED)
    def on_window_opened(self, payload: dict[str, Any]) -> None:
        """A new window: copied now, so the council's first write needs no call."""
        self._campaign(payload["campaign_id"], need_window=payload["kind"])

    # --- Council -------------------------------------------------------------------

    @rpc(expected_exceptions=DomainError)
    def queue(self, campaign_id: int, actor: dict[str, Any], unit: str | None = None,
              status: str | None = None) -> list[dict[str, Any]]:
        """The sent criteria the caller's department appraises, across units."""
        who = verified_actor(actor)
        self._campaign(campaign_id)
        return council.queue(self.db, campaign_id, who.get("department_code"), unit, status)

    @rpc(expected_exceptions=DomainError)
    def appraise(self, assessment_id: int, code: str, body: dict[str, Any],
                 actor: dict[str, Any]) -> dict[str, Any]:
        """A council score for one criterion in round 1 or 2 (423 outside its window)."""
        who = verified_actor(actor)
        if not isinstance(body, dict):
            raise DomainError("invalid_input", "Dữ liệu không hợp lệ / invalid input", 422)
        assessment = sync.assessment(self.db, assessment_id)
        kind = lock.WINDOW_OF_ROUND.get(body.get("round"), lock.APPRAISAL)
        self._campaign(assessment.campaign_id, need_window=kind)

        def write() -> tuple[dict[str, Any], Any]:
            current = sync.assessment(self.db, assessment_id, lock="share")
            return council.appraise(self.db, current, self._node(current, code), body, who)

        return self._write(write)

    @rpc(expected_exceptions=DomainError)
    def return_criteria(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """Trả lại: the flagged criteria go back to the unit for round 2."""
        who = self._require(actor, {"admin"})
        assessment = sync.assessment(self.db, assessment_id)
        codes = rounds.flagged(self.db, assessment)
        rounds.check_returnable(assessment, codes)
        self.db.rollback()
        rounds.reopen_in_submission(self.submission, assessment_id, codes, actor)
        with transaction(self.db):
            current = sync.assessment(self.db, assessment_id, lock=True)
            if current.status == "returned":
                return {"assessment_id": current.id, "status": current.status, "round": 2}
            return rounds.mark_returned(self.db, current, codes, who["username"])

    @rpc(expected_exceptions=DomainError)
    def history(self, assessment_id: int, actor: dict[str, Any]) -> list[dict[str, Any]]:
        """Every council and admin change of this assessment."""
        self._require(actor, COUNCIL_ROLES)
        return council.history(self.db, assessment_id)

    @rpc(expected_exceptions=DomainError)
    def comments(self, assessment_id: int, code: str,
                 actor: dict[str, Any]) -> list[dict[str, Any]]:
        who = verified_actor(actor)
        unit_code, node = self._comment_scope(assessment_id, code)
        return comments.thread(self.db, assessment_id, node, who, unit_code)

    @rpc(expected_exceptions=DomainError)
    def add_comment(self, assessment_id: int, code: str, body: dict[str, Any],
                    actor: dict[str, Any]) -> dict[str, Any]:
        who = verified_actor(actor)
        unit_code, node = self._comment_scope(assessment_id, code)
        with transaction(self.db):
            return comments.add(self.db, assessment_id, node, who, unit_code, body)

    # --- Results -------------------------------------------------------------------

    @rpc(expected_exceptions=DomainError)
    def set_survey(self, campaign_id: int, scores: dict[str, Any],
                   actor: dict[str, Any]) -> dict[str, int]:
        """Điểm điều tra xã hội học, entered by the admin."""
        who = self._require(actor, {"admin"})
        campaign = self._campaign(campaign_id)
        with transaction(self.db):
            return results.set_survey(self.db, campaign, scores, who["username"])

    @rpc(expected_exceptions=DomainError)
    def set_adjustments(self, assessment_id: int, items: list[dict[str, Any]],
                        actor: dict[str, Any]) -> dict[str, Any]:
        """Điểm thưởng / điểm trừ with reasons, capped by the set."""
        who = self._require(actor, {"admin"})
        assessment = sync.assessment(self.db, assessment_id)
        campaign = self._campaign(assessment.campaign_id)
        with transaction(self.db):
            assessment = sync.assessment(self.db, assessment_id, lock=True)
            return results.set_adjustments(self.db, campaign, assessment, items, who["username"])

    @rpc(expected_exceptions=DomainError)
    def finalize(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """Chốt kết quả of one unit: final scores, total, index, band."""
        who = self._require(actor, {"admin"})
        assessment = sync.assessment(self.db, assessment_id)
        campaign = self._campaign(assessment.campaign_id)
        with transaction(self.db):
            sync.assessment(self.db, assessment_id, lock=True)
            results.finalize(self.db, campaign, [assessment_id], who["username"])
        return results.result_of(sync.assessment(self.db, assessment_id))

    @rpc(expected_exceptions=DomainError)
    def finalize_campaign(self, campaign_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """Every sent unit of the campaign at once (all or nothing)."""
        who = self._require(actor, {"admin"})
        campaign = self._campaign(campaign_id)
        with transaction(self.db):
            rows = results.finalize(self.db, campaign, None, who["username"])
        return {"campaign_id": campaign_id, "finalized": len(rows)}

    @rpc(expected_exceptions=DomainError)
    def publish(self, campaign_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """Công bố kết quả: ranks within each unit type; everyone may see them after."""
        who = self._require(actor, {"admin"})
        campaign = self._campaign(campaign_id)
        units = [u["unit_code"] for u in self.submission.get_campaign(campaign_id)["units"]]
        with transaction(self.db):
            campaign = self.db.get(Campaign, campaign_id, with_for_update=True,
                                   populate_existing=True)
            return results.publish(self.db, campaign, units, who["username"])

    @rpc(expected_exceptions=DomainError)
    def results(self, campaign_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """The campaign's results: admin and council before publication, everyone after."""
        who = verified_actor(actor)
        campaign = self._visible(campaign_id, who)
        return {"campaign": self._campaign_out(campaign),
                "results": results.results(self.db, campaign)}

    @rpc(expected_exceptions=DomainError)
    def assessment_view(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """The council's work on one unit: all of it for admin and council; for the unit,
        its returned criteria with reasons, and everything once published."""
        who = verified_actor(actor)
        assessment = sync.assessment(self.db, assessment_id)
        campaign = self._campaign(assessment.campaign_id)
        roles = set(who.get("roles") or [])
        if roles & COUNCIL_ROLES:
            nodes = sync.nodes(self.db, campaign.id)
            return {**results.result_of(assessment), "round": assessment.round,
                    "entries": [council.entry_out(e, nodes[e.code], assessment)
                                for e in self._entries(assessment.id)],
                    "adjustments": results.adjustments_out(self.db, assessment.id)}
        self._own_unit(who, assessment.unit_code)
        return reports.unit_view(self.db, campaign, assessment)

    @rpc(expected_exceptions=DomainError)
    def criteria_report(self, campaign_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """Per field and criterion across units."""
        who = self._require(actor, {"admin", "appraiser", "viewer"})
        campaign = self._campaign(campaign_id)
        if campaign.published_at is None and "viewer" in who.get("roles", []) and not (
                set(who.get("roles") or []) & COUNCIL_ROLES):
            raise self._not_published()
        return reports.criteria_report(self.db, campaign)

    @rpc(expected_exceptions=DomainError)
    def trend(self, unit_code: str, actor: dict[str, Any]) -> dict[str, Any]:
        """The unit's published index and fields, year by year."""
        who = verified_actor(actor)
        roles = set(who.get("roles") or [])
        if not roles & {"admin", "viewer"}:
            self._own_unit(who, unit_code)
        return {"unit_code": unit_code, "years": reports.trend(self.db, unit_code)}

    @rpc(expected_exceptions=DomainError)
    def deductions(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """Bảng điểm bị trừ (Hà Tĩnh's appendix) of one unit."""
        who = verified_actor(actor)
        assessment = sync.assessment(self.db, assessment_id)
        if "admin" not in (who.get("roles") or []):
            self._own_unit(who, assessment.unit_code)
        return reports.deductions(self.db, self._campaign(assessment.campaign_id), assessment)

    # --- Helpers (not entrypoints) -----------------------------------------------------

    def _campaign(self, campaign_id: int, need_window: str | None = None) -> Campaign:
        if not isinstance(campaign_id, int) or not 0 < campaign_id < 2**31:
            raise not_found("đợt đánh giá / campaign", str(campaign_id))
        return sync.campaign(self.db, self.submission, self.criteria, campaign_id, need_window)

    def _node(self, assessment: Assessment, code: str) -> Node:
        node = self.db.scalars(select(Node).where(
            Node.campaign_id == assessment.campaign_id, Node.code == code)).first()
        if node is None or not node.is_leaf:
            raise not_found("tiêu chí chấm điểm / scorable criterion", code)
        return node

    def _entries(self, assessment_id: int) -> list[Any]:
        return list(self.db.scalars(select(Entry).where(Entry.assessment_id == assessment_id)
                                    .order_by(Entry.id)))

    def _write(self, write: Callable[[], tuple[dict[str, Any], Any]]) -> dict[str, Any]:
        """One write transaction committed under its window's lock (423 past the instant)."""
        try:
            result, window = write()
            lock.commit(self.db, window)
        except BaseException:
            self.db.rollback()
            raise
        return result

    def _comment_scope(self, assessment_id: int, code: str) -> tuple[str, Node]:
        if not isinstance(assessment_id, int) or not 0 < assessment_id < 2**31:
            raise not_found("bản đánh giá / assessment", str(assessment_id))
        assessment = self.db.get(Assessment, assessment_id)
        if assessment is None:
            remote = self.submission.get_assessment_by_id(assessment_id, sync.system_actor())
            campaign_id, unit_code = remote["campaign_id"], remote["unit_code"]
        else:
            campaign_id, unit_code = assessment.campaign_id, assessment.unit_code
        self._campaign(campaign_id)
        node = sync.nodes(self.db, campaign_id).get(code)
        if node is None or not node.is_leaf:
            raise not_found("tiêu chí / criterion", code)
        return unit_code, node

    def _visible(self, campaign_id: int, who: dict[str, Any]) -> Campaign:
        campaign = self._campaign(campaign_id)
        if campaign.published_at is None and not set(who.get("roles") or []) & COUNCIL_ROLES:
            raise self._not_published()
        return campaign

    @staticmethod
    def _not_published() -> DomainError:
        return DomainError("results_not_published",
                           "Kết quả chưa được công bố / the results are not published yet", 403)

    @staticmethod
    def _require(actor: dict[str, Any], roles: set[str]) -> dict[str, Any]:
        """The actor the gateway signed, if it holds one of ``roles`` (401 / 403)."""
        return verified_actor(actor, roles=roles)

    @staticmethod
    def _own_unit(who: dict[str, Any], unit_code: str) -> None:
        if who.get("unit_code") != unit_code:
            raise DomainError("forbidden_unit",
                              f"Bạn không thuộc đơn vị {unit_code} / not a member of unit "
                              f"{unit_code}", 403, {"unit_code": unit_code})

    @staticmethod
    def _campaign_out(campaign: Campaign) -> dict[str, Any]:
        return {"id": campaign.id, "name": campaign.name, "year": campaign.year,
                "unit_type": campaign.unit_type, "published": campaign.published_at is not None,
                "published_at": vn_iso(campaign.published_at)}
