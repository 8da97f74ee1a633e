"""Cập nhật tiêu chí: a unit's writes to its entries (assignments, scores,
completion, evidence links), each in one transaction committed before its window's lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import select

from services.common import scoring, windows
from services.common.contracts import ENTRIES_ASSIGNED
from services.common.db import transaction
from services.common.errors import DomainError, invalid, not_found
from services.common.outbox import record_event
from services.common.validation import parse
from services.submission import domain, persistence
from services.submission.domain import entry_snapshot
from services.submission.models import Assessment, Campaign, Entry, Node, Window
from services.submission.schemas import (
    Actor,
    EntryIn,
    EvidenceRef,
)

# A write: its answer and the window it must commit before (None: not window-bound).
Write = Callable[[], tuple[dict[str, Any], Window | None]]


class Entries:
    """Entrypoints of a unit's writes to its entries, inherited by the submission Service."""

    @rpc(expected_exceptions=DomainError)
    def assign(self, assessment_id: int, assignments: dict[str, str | None],
               actor: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """Phân công: assigning a field or criterion assigns every leaf under it."""
        who = parse(Actor, actor)
        if not isinstance(assignments, dict) or not all(
            isinstance(v, str | None) for v in assignments.values()
        ):
            raise invalid("Phân công là {mã: tên đăng nhập} / assignments are {code: username}")

        def write() -> tuple[dict[str, Any], Window | None]:
            assessment = persistence.assessment(self.db, assessment_id, lock="share")
            domain.check_leader(who.model_dump(), assessment.unit_code)
            persistence.unit_may_write(assessment)
            nodes = persistence.nodes(self.db, assessment.campaign_id)
            unknown = sorted(set(assignments) - set(nodes))
            if unknown:
                raise DomainError("unknown_code",
                                  f"Mã tiêu chí không có / unknown code: {', '.join(unknown)}",
                                  422, {"codes": unknown})
            self._check_assignees(assessment.unit_code, assignments.values())
            window = persistence.open_window(self.db, assessment.campaign_id,
                                       persistence.window_for(assessment.status))
            parents = {c: n.parent_code for c, n in nodes.items()}
            leaves = [c for c, n in nodes.items() if n.is_leaf]
            # Deeper codes win over their ancestors, whatever order the client sent.
            plan: dict[str, str | None] = {}
            for code in sorted(assignments, key=lambda c: nodes[c].depth):
                for leaf in domain.leaves_under(parents, leaves, code):
                    plan[leaf] = assignments[code]
            now = persistence.server_now(self.db)
            rows = self.db.scalars(select(Entry).where(
                Entry.assessment_id == assessment_id, Entry.code.in_(plan))
                .order_by(Entry.code).with_for_update()).all()
            changed = []
            for entry in rows:
                if entry.assignee == plan[entry.code]:
                    continue
                persistence.record_change(self.db, assessment_id, entry.code, "assign",
                                    who.username, now, {"assignee": entry.assignee},
                                    {"assignee": plan[entry.code]})
                entry.assignee = plan[entry.code]
                entry.version += 1
                changed.append({"code": entry.code, "assignee": entry.assignee,
                                "version": entry.version})
            if changed:
                # Phân công: notify tells each assignee what is now theirs.
                record_event(self.db, ENTRIES_ASSIGNED, {
                    "assessment_id": assessment.id, "campaign_id": assessment.campaign_id,
                    "unit_code": assessment.unit_code, "actor": who.username,
                    "assignments": [{"code": c["code"], "title": nodes[c["code"]].title,
                                     "assignee": c["assignee"]} for c in changed]})
            return {"assigned": changed}, window

        return self._idempotent(who, idempotency_key, "assign",
                                (assessment_id, assignments), write)

    @rpc(expected_exceptions=DomainError)
    def save_entry(self, assessment_id: int, code: str, data: dict[str, Any],
                   actor: dict[str, Any], if_match: Any = None,
                   idempotency_key: str | None = None) -> dict[str, Any]:
        """Cập nhật: one criterion's score inputs, not-applicable flag and explanation."""
        who = parse(Actor, actor)
        body = parse(EntryIn, data)
        expected = domain.parse_if_match(if_match)
        inputs = domain.score_inputs(body.model_dump())

        def refuse_not_applicable(node: Node) -> None:
            if body.not_applicable and not node.not_applicable_allowed:
                raise DomainError(
                    "not_applicable_not_allowed",
                    f"Tiêu chí {code} không được đánh dấu không áp dụng / "
                    f"criterion {code} cannot be marked not applicable", 422)

        def from_cache() -> tuple[Campaign, Node, Decimal | None] | None:
            """Campaign, criterion and score, when this process needs no read and no call."""
            campaign_id = persistence.known_campaign(self.db, assessment_id)
            if campaign_id is None:
                return None
            node = persistence.nodes(self.db, campaign_id).get(code)
            if node is None or not node.is_leaf:
                return None
            campaign = self._campaign(campaign_id)
            score = None
            if inputs:
                score = persistence.known_score(self.db, campaign.catalog_id, code, inputs)
                if score is None:
                    return None
            return campaign, node, score

        def write() -> tuple[dict[str, Any], Window | None]:
            ready = from_cache()
            if ready is not None:
                # Nothing to ask the criteria service: straight to the locked rows, where
                # the same checks run in the same order as below.
                campaign, node, score = ready
                locked = persistence.locked_for_write(self.db, assessment_id, code)
                if locked is not None:
                    assessment, entry, window, _ = locked
                    domain.check_write(who.model_dump(), assessment.unit_code, entry.assignee)
                    refuse_not_applicable(node)
            else:
                # Cheap refusals first, so a forbidden save costs no scoring call.
                assessment, current = persistence.assessment_and_entry(self.db, assessment_id, code)
                persistence.remember_campaign(self.db, assessment_id, assessment.campaign_id)
                node = persistence.nodes(self.db, assessment.campaign_id)[code]
                domain.check_write(who.model_dump(), assessment.unit_code, current.assignee)
                refuse_not_applicable(node)
                campaign = self._campaign(assessment.campaign_id)
                score = None
                if inputs:
                    score = Decimal(
                        self.criteria.score_entry(campaign.catalog_id, code, inputs)["score"])
                    persistence.remember_score(self.db, campaign.catalog_id, code, inputs, score)
                locked = persistence.locked_for_write(self.db, assessment_id, code)

            if locked is not None:
                assessment, entry, window, clock = locked
                persistence.unit_may_write(assessment)
                now = windows.refuse_unless_open(window, clock)
            else:
                assessment = persistence.assessment(self.db, assessment_id, lock="share")
                persistence.unit_may_write(assessment)
                window = persistence.open_window(self.db, assessment.campaign_id,
                                           persistence.window_for(assessment.status))
                entry = persistence.entry(self.db, assessment_id, code, lock=True)
                now = persistence.server_now(self.db)
            # Re-checked under the row lock: the leader may have reassigned meanwhile.
            domain.check_write(who.model_dump(), assessment.unit_code, entry.assignee)
            self._returned_only(assessment, entry)
            if expected is not None and entry.version != expected:
                raise domain.stale(entry.version)
            before = entry_snapshot(entry)
            if inputs:
                entry.inputs, entry.score = inputs, score
            if body.not_applicable is not None:
                entry.not_applicable = body.not_applicable
            if body.explanation is not None:
                entry.explanation = body.explanation
            # A changed entry must be looked at again before it counts as complete.
            entry.status = "draft"
            return self._entry_written(assessment, entry, node, campaign, who, "save",
                                       before, now), window

        return self._idempotent(who, idempotency_key, "save_entry",
                                (assessment_id, code, body.model_dump(mode="json"), expected),
                                write)

    @rpc(expected_exceptions=DomainError)
    def complete_entry(self, assessment_id: int, code: str, actor: dict[str, Any],
                       if_match: Any = None,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """Hoàn thành: refused without an explanation, or without required evidence."""
        who = parse(Actor, actor)
        expected = domain.parse_if_match(if_match)

        def write() -> tuple[dict[str, Any], Window | None]:
            assessment, entry, node, window, now = self._writable_entry(assessment_id, code, who)
            if expected is not None and entry.version != expected:
                raise domain.stale(entry.version)
            problems = domain.completion_problems(
                score=entry.score, not_applicable=entry.not_applicable,
                explanation=entry.explanation, evidence=entry.evidence,
                evidence_rule=node.evidence)
            if problems:
                raise domain.incomplete(code, problems)
            before = entry_snapshot(entry)
            entry.status = "complete"
            campaign = self._campaign(assessment.campaign_id)
            return self._entry_written(assessment, entry, node, campaign, who, "complete",
                                       before, now), window

        return self._idempotent(who, idempotency_key, "complete_entry",
                                (assessment_id, code, expected), write)

    @rpc(expected_exceptions=DomainError)
    def attach_evidence(self, assessment_id: int, code: str, evidence: dict[str, Any],
                        actor: dict[str, Any]) -> dict[str, Any]:
        """The evidence service files a document under an entry (423 once locked)."""
        who = parse(Actor, actor)
        ref = parse(EvidenceRef, evidence)

        def write() -> tuple[dict[str, Any], Window | None]:
            assessment, entry, node, window, now = self._writable_entry(assessment_id, code, who)
            before = entry_snapshot(entry)
            kept = [e for e in entry.evidence if str(e["id"]) != str(ref.id)]
            entry.evidence = [*kept, ref.model_dump(mode="json", exclude_none=True)]
            campaign = self._campaign(assessment.campaign_id)
            return self._entry_written(assessment, entry, node, campaign, who, "attach_evidence",
                                       before, now), window

        return self._idempotent(who, None, "attach_evidence", (), write)

    @rpc(expected_exceptions=DomainError)
    def check_writable(self, assessment_id: int, code: str,
                       actor: dict[str, Any]) -> dict[str, Any]:
        """Raises what a write of this criterion by ``actor`` would raise now (403, 404,
        423), without writing: asked before costly work such as a PDF's signature check.
        The write itself checks again; this only keeps refused callers from costing.
        Answers the campaign the criterion is scored in (its year and set), which is
        all the evidence service needs to know of the assessment."""
        who = parse(Actor, actor)
        with transaction(self.db):
            assessment, *_ = self._writable_entry(assessment_id, code, who)
            campaign = self._campaign(assessment.campaign_id)
            return {"campaign_id": campaign.id, "catalog_id": campaign.catalog_id,
                    "year": campaign.year}

    @rpc(expected_exceptions=DomainError)
    def detach_evidence(self, assessment_id: int, code: str, evidence_id: str | int,
                        actor: dict[str, Any]) -> dict[str, Any]:
        who = parse(Actor, actor)

        def write() -> tuple[dict[str, Any], Window | None]:
            assessment, entry, node, window, now = self._writable_entry(assessment_id, code, who)
            kept = [e for e in entry.evidence if str(e["id"]) != str(evidence_id)]
            if len(kept) == len(entry.evidence):
                raise not_found("tài liệu kiểm chứng / evidence", str(evidence_id))
            before = entry_snapshot(entry)
            entry.evidence = kept
            if entry.status == "complete" and domain.completion_problems(
                score=entry.score, not_applicable=entry.not_applicable,
                explanation=entry.explanation, evidence=kept, evidence_rule=node.evidence,
            ):
                entry.status = "draft"
            campaign = self._campaign(assessment.campaign_id)
            return self._entry_written(assessment, entry, node, campaign, who, "detach_evidence",
                                       before, now), window

        return self._idempotent(who, None, "detach_evidence", (), write)

    def _writable_entry(self, assessment_id: int, code: str,
                        who: Actor) -> tuple[Assessment, Entry, Node, Window, datetime]:
        """The rows a write to one entry holds, with the server clock read under them,
        once every check passed; a save's single locked read when all rows are there."""
        locked = (persistence.locked_for_write(self.db, assessment_id, code)
                  if persistence.valid_id(assessment_id) and isinstance(code, str) else None)
        if locked is None:
            # Something is missing: step by step, so the refusal names what.
            assessment = persistence.assessment(self.db, assessment_id, lock="share")
        else:
            assessment, entry, window, clock = locked
        node = persistence.nodes(self.db, assessment.campaign_id).get(code)
        if node is None or not node.is_leaf:
            raise not_found("tiêu chí chấm điểm / scorable criterion", code)
        if locked is None:
            entry = persistence.entry(self.db, assessment_id, code, lock=True)
        domain.check_write(who.model_dump(), assessment.unit_code, entry.assignee)
        persistence.unit_may_write(assessment)
        if locked is None:
            window = persistence.open_window(self.db, assessment.campaign_id,
                                             persistence.window_for(assessment.status))
            now = persistence.server_now(self.db)
        else:
            now = windows.refuse_unless_open(window, clock)
        self._returned_only(assessment, entry)
        return assessment, entry, node, window, now

    @staticmethod
    def _returned_only(assessment: Assessment, entry: Entry) -> None:
        if assessment.status == "returned" and not entry.returned:
            raise DomainError(
                "not_returned",
                "Vòng bổ sung chỉ cho sửa tiêu chí được trả lại / "
                "only returned criteria can change in this round", 423)

    def _entry_written(self, assessment: Assessment, entry: Entry, node: Node, campaign: Campaign,
                       who: Actor, action: str, before: dict[str, Any],
                       now: datetime | None = None) -> dict[str, Any]:
        # ``now``: the server clock the caller read under the locks, when it has it.
        if now is None:
            now = persistence.server_now(self.db)
        entry.version += 1
        entry.updated_at, entry.updated_by = now, who.username
        # Totals over the committed scores of the other entries and this one's new
        # score, added up by the database; only this entry's row is locked exclusively.
        sums = persistence.write_entry(self.db, entry, {
            "assessment_id": assessment.id, "code": entry.code, "action": action,
            "actor": who.username, "at": now, "before": before,
            "after": entry_snapshot(entry)})
        result = scoring.result_from_sums(*sums, campaign.bands).as_json(index_cents=True)
        # No event: a save is kept in the history row above, and nobody listens for
        # single saves; an outbox row per save was a fifth of the rush's CPU.
        return {**self._entry_out(entry, node), "totals": result}

    def _check_assignees(self, unit_code: str, usernames: Any) -> None:
        """Criteria go to people of the unit only (công chức của đơn vị)."""
        wanted = {u for u in usernames if u}
        if not wanted:
            return
        members = {u["username"] for u in self.identity.list_users(unit_code=unit_code)}
        strangers = sorted(wanted - members)
        if strangers:
            raise DomainError(
                "assignee_not_in_unit",
                f"Chỉ phân công cho công chức của đơn vị / assignees must belong to the unit: "
                f"{', '.join(strangers)}",
                422, {"usernames": strangers},
            )

    def _idempotent(self, who: Actor, key: str | None, method: str, parts: tuple[Any, ...],
                    write: Write) -> dict[str, Any]:
        return persistence.idempotent(self.db, who.username, key,
                                domain.fingerprint(method, *parts), write)
