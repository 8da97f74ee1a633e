"""Submission service: campaigns, windows and their locks, assessments, entries.

(Đợt đánh giá, thời hạn và khóa sổ, bản tự đánh giá, tiêu chí.) Every score comes
from the criteria service; this service decides who may write, when, and whether
an entry or an assessment is complete.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from nameko.rpc import RpcProxy, rpc
from nameko.timer import timer
from sqlalchemy import case, func, select, update

from services.common import windows
from services.common.base import ServiceBase
from services.common.contracts import (
    ASSESSMENT_RETURNED,
    ASSESSMENT_SUBMITTED,
    ASSESSMENT_WITHDRAWN,
    CRITERIA,
    ENTRIES_ASSIGNED,
    ENTRY_SAVED,
    EVIDENCE,
    IDENTITY,
    SUBMISSION,
    WINDOW_LOCKED,
    WINDOW_OPENED,
)
from services.common.db import transaction
from services.common.errors import DomainError, invalid, not_found
from services.common.outbox import record_event
from services.common.times import vn_iso
from services.common.validation import parse
from services.submission import domain, gauges, precheck, rounds, signed_summary, store
from services.submission.domain import decimal_text, entry_snapshot
from services.submission.models import Assessment, Campaign, Change, Entry, Node, Window
from services.submission.schemas import (
    Actor,
    CampaignIn,
    EntryIn,
    EvidenceRef,
    NewWindow,
    SubmitIn,
)

WORK = Callable[[], tuple[dict[str, Any], Window | None]]


class Service(rounds.RoundTwo, ServiceBase):
    name = SUBMISSION

    criteria = RpcProxy(CRITERIA)
    identity = RpcProxy(IDENTITY)
    evidence = RpcProxy(EVIDENCE)

    # --- Campaigns and windows ------------------------------------------------

    @rpc(expected_exceptions=DomainError)
    def create_campaign(self, data: dict[str, Any], actor: dict[str, Any]) -> dict[str, int]:
        who = self._admin(actor)
        body = parse(CampaignIn, data)
        catalog = self.criteria.get_catalog(body.catalog_id)
        units = {u["code"]: u for u in self.identity.list_units()}
        unknown = [code for code in body.unit_codes if code not in units]
        if unknown:
            raise DomainError("unknown_units",
                              f"Không có đơn vị / unknown units: {', '.join(unknown)}", 422,
                              {"unit_codes": unknown})
        rows = domain.flatten_catalog(catalog["nodes"])
        leaves = [r for r in rows if r["is_leaf"]]
        now = datetime.now(UTC)
        with transaction(self.db):
            campaign = Campaign(name=body.name, year=body.year, catalog_id=body.catalog_id,
                                bands=catalog.get("bands") or [], created_by=who.username,
                                created_at=now, data_cutoff_date=body.data_cutoff_date,
                                reminders_minutes_before_lock=body.reminders_minutes_before_lock,
                                unranked_unit_codes=body.unranked_unit_codes)
            self.db.add(campaign)
            self.db.flush()
            self.db.add_all(Node(campaign_id=campaign.id, **r) for r in rows)
            windows = [Window(campaign_id=campaign.id, kind=kind, opens_at=w.opens_at,
                              locks_at=w.locks_at) for kind, w in body.windows.items()]
            self.db.add_all(windows)
            for code in body.unit_codes:
                found = Assessment(campaign_id=campaign.id, unit_code=code,
                                   unit_name=units[code]["name"], status="draft", round=1,
                                   version=1)
                self.db.add(found)
                self.db.flush()
                self.db.execute(Entry.__table__.insert(), [
                    {"assessment_id": found.id, "code": leaf["code"], "inputs": {},
                     "max": leaf["max"], "not_applicable": False, "explanation": "",
                     "evidence": [], "status": rounds.initial_status(leaf), "reopened": False,
                     "version": 1}
                    for leaf in leaves
                ])
            self.db.flush()
            for window in windows:
                self._announce_window(campaign, window, body.unit_codes)
            # The set becomes immutable once used; said last, so a failed campaign
            # does not freeze a set nobody uses.
            self.criteria.use_catalog(body.catalog_id)
        return {"id": campaign.id}

    @rpc
    def list_campaigns(self) -> list[dict[str, Any]]:
        query = select(Campaign).order_by(Campaign.year.desc(), Campaign.id.desc())
        return [{"id": c.id, "name": c.name, "year": c.year, "catalog_id": c.catalog_id}
                for c in self.db.scalars(query)]

    @rpc(expected_exceptions=DomainError)
    def get_campaign(self, campaign_id: int) -> dict[str, Any]:
        campaign = self._campaign(campaign_id)
        now = store.server_now(self.db)
        windows = self.db.scalars(select(Window).where(Window.campaign_id == campaign_id)
                                  .order_by(Window.opens_at)).all()
        units = self.db.execute(
            select(Assessment.id, Assessment.unit_code, Assessment.unit_name)
            .where(Assessment.campaign_id == campaign_id).order_by(Assessment.unit_code)
        ).all()
        return {
            "id": campaign.id, "name": campaign.name, "year": campaign.year,
            "catalog_id": campaign.catalog_id, "bands": campaign.bands,
            "data_cutoff_date": (campaign.data_cutoff_date.isoformat()
                                 if campaign.data_cutoff_date else None),
            "reminders_minutes_before_lock": list(campaign.reminders_minutes_before_lock or []),
            "unranked_unit_codes": list(campaign.unranked_unit_codes or []),
            "windows": {w.kind: self._window_out(w, now) for w in windows},
            "units": [{"unit_code": u.unit_code, "unit_name": u.unit_name,
                       "assessment_id": u.id} for u in units],
        }

    @rpc(expected_exceptions=DomainError)
    def add_window(self, campaign_id: int, data: dict[str, Any],
                   actor: dict[str, Any]) -> dict[str, Any]:
        """Opens a later round (appraisal, supplement)."""
        self._admin(actor)
        body = parse(NewWindow, data)
        with transaction(self.db):
            self._campaign(campaign_id)
            exists = self.db.scalars(select(Window).where(
                Window.campaign_id == campaign_id, Window.kind == body.kind)).first()
            if exists is not None:
                raise DomainError("window_exists",
                                  f"Thời hạn {body.kind} đã có / window {body.kind} exists", 409)
            window = Window(campaign_id=campaign_id, kind=body.kind, opens_at=body.opens_at,
                            locks_at=body.locks_at)
            self.db.add(window)
            self.db.flush()
            self._announce_window(self._campaign(campaign_id), window, list(self.db.scalars(
                select(Assessment.unit_code).where(Assessment.campaign_id == campaign_id)
                .order_by(Assessment.unit_code))))
            return self._window_out(window, store.server_now(self.db))

    @rpc(expected_exceptions=DomainError)
    def progress(self, campaign_id: int) -> list[dict[str, Any]]:
        """Per unit: criteria complete / total, sent or not, last change."""
        self._campaign(campaign_id)
        complete = func.sum(case((Entry.status == "complete", 1), else_=0))
        rows = self.db.execute(
            select(Assessment.id, Assessment.unit_code, Assessment.unit_name, Assessment.status,
                   Assessment.submitted_at, func.count(Entry.id), complete,
                   func.max(Entry.updated_at))
            .join(Entry, Entry.assessment_id == Assessment.id)
            .where(Assessment.campaign_id == campaign_id)
            .group_by(Assessment.id).order_by(Assessment.unit_code)
        ).all()
        return [{"assessment_id": r[0], "unit_code": r[1], "unit_name": r[2], "status": r[3],
                 "submitted": r[3] == "submitted", "submitted_at": vn_iso(r[4]),
                 "total": r[5], "done": int(r[6] or 0), "last_change": vn_iso(r[7])}
                for r in rows]

    @rpc(expected_exceptions=DomainError)
    def pending_units(self, campaign_id: int, kind: str = domain.SELF_ASSESSMENT
                      ) -> list[dict[str, Any]]:
        """Units that have not sent in this window, with their incomplete criteria.

        What notify's reminders before a lock need: [{assessment_id, unit_code,
        unit_name, status, incomplete: [{code, title, assignee}]}]. In the supplement
        window only returned criteria count.
        """
        self._campaign(campaign_id)
        supplement = kind == domain.SUPPLEMENT
        nodes = store.nodes(self.db, campaign_id)
        rows = self.db.execute(
            select(Assessment.id, Assessment.unit_code, Assessment.unit_name,
                   Assessment.status, Entry.code, Entry.assignee, Entry.status,
                   Entry.reopened)
            .outerjoin(Entry, Entry.assessment_id == Assessment.id)
            .where(Assessment.campaign_id == campaign_id,
                   Assessment.status == ("returned" if supplement else "draft"))
            .order_by(Assessment.unit_code, Entry.id)
        ).all()
        units: dict[int, dict[str, Any]] = {}
        for aid, unit_code, unit_name, status, code, assignee, entry_status, reopened in rows:
            unit = units.setdefault(aid, {"assessment_id": aid, "unit_code": unit_code,
                                          "unit_name": unit_name, "status": status,
                                          "incomplete": []})
            if code is None or entry_status == "complete" or (supplement and not reopened):
                continue
            unit["incomplete"].append({"code": code, "title": nodes[code].title,
                                       "assignee": assignee})
        return list(units.values())

    # --- A unit's assessment ----------------------------------------------------

    @rpc(expected_exceptions=DomainError)
    def get_assessment(self, campaign_id: int, unit_code: str,
                       actor: dict[str, Any]) -> dict[str, Any]:
        self._campaign(campaign_id)
        found = self.db.scalars(select(Assessment).where(
            Assessment.campaign_id == campaign_id, Assessment.unit_code == unit_code)).first()
        if found is None:
            raise not_found("bản đánh giá / assessment", f"{campaign_id}/{unit_code}")
        return self.get_assessment_by_id(found.id, actor)

    @rpc(expected_exceptions=DomainError)
    def get_assessment_by_id(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        who = parse(Actor, actor)
        found = store.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), found.unit_code)
        entries = self._entries(found.id)
        nodes = store.nodes(self.db, found.campaign_id)
        campaign = self._campaign(found.campaign_id)
        return {
            **self._assessment_out(found),
            **self._result(campaign, entries),
            "entries": [self._entry_out(e, nodes[e.code]) for e in entries],
        }

    @rpc(expected_exceptions=DomainError)
    def assign(self, assessment_id: int, assignments: dict[str, str | None],
               actor: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """Phân công: assigning a field or criterion assigns every leaf under it."""
        who = parse(Actor, actor)
        if not isinstance(assignments, dict) or not all(
            isinstance(v, str | None) for v in assignments.values()
        ):
            raise invalid("Phân công là {mã: tên đăng nhập} / assignments are {code: username}")

        def work() -> tuple[dict[str, Any], Window | None]:
            found = store.assessment(self.db, assessment_id, lock="share")
            domain.check_leader(who.model_dump(), found.unit_code)
            store.unit_may_write(found)
            nodes = store.nodes(self.db, found.campaign_id)
            unknown = sorted(set(assignments) - set(nodes))
            if unknown:
                raise DomainError("unknown_code",
                                  f"Mã tiêu chí không có / unknown code: {', '.join(unknown)}",
                                  422, {"codes": unknown})
            self._check_assignees(found.unit_code, assignments.values())
            window = store.open_window(self.db, found.campaign_id,
                                       store.window_for(found.status))
            parents = {c: n.parent_code for c, n in nodes.items()}
            leaves = [c for c, n in nodes.items() if n.is_leaf]
            # Deeper codes win over their ancestors, whatever order the client sent.
            plan: dict[str, str | None] = {}
            for code in sorted(assignments, key=lambda c: nodes[c].depth):
                for leaf in domain.leaves_under(parents, leaves, code):
                    plan[leaf] = assignments[code]
            now = store.server_now(self.db)
            rows = self.db.scalars(select(Entry).where(
                Entry.assessment_id == assessment_id, Entry.code.in_(plan))
                .order_by(Entry.code).with_for_update()).all()
            changed = []
            for entry in rows:
                if entry.assignee == plan[entry.code]:
                    continue
                store.record_change(self.db, assessment_id, entry.code, "assign",
                                    who.username, now, {"assignee": entry.assignee},
                                    {"assignee": plan[entry.code]})
                entry.assignee = plan[entry.code]
                entry.version += 1
                changed.append({"code": entry.code, "assignee": entry.assignee,
                                "version": entry.version})
            if changed:
                # Phân công: notify tells each assignee what is now theirs.
                record_event(self.db, ENTRIES_ASSIGNED, {
                    "assessment_id": found.id, "campaign_id": found.campaign_id,
                    "unit_code": found.unit_code, "actor": who.username,
                    "assignments": [{"code": c["code"], "title": nodes[c["code"]].title,
                                     "assignee": c["assignee"]} for c in changed]})
            return {"assigned": changed}, window

        return self._idempotent(who, idempotency_key, "assign",
                                (assessment_id, assignments), work)

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

        def known() -> tuple[Campaign, Node, Decimal | None] | None:
            """Campaign, criterion and score, when this process needs no read and no call."""
            campaign_id = store.known_campaign(self.db, assessment_id)
            if campaign_id is None:
                return None
            node = store.nodes(self.db, campaign_id).get(code)
            if node is None or not node.is_leaf:
                return None
            campaign = self._campaign(campaign_id)
            score = None
            if inputs:
                score = store.known_score(self.db, campaign.catalog_id, code, inputs)
                if score is None:
                    return None
            return campaign, node, score

        def work() -> tuple[dict[str, Any], Window | None]:
            ready = known()
            if ready is not None:
                # Nothing to ask the criteria service: straight to the locked rows, where
                # the same checks run in the same order as below.
                campaign, node, score = ready
                locked = store.locked_for_write(self.db, assessment_id, code)
                if locked is not None:
                    found, entry, window = locked
                    domain.check_write(who.model_dump(), found.unit_code, entry.assignee)
                    refuse_not_applicable(node)
            else:
                # Cheap refusals first, so a forbidden save costs no scoring call.
                found, current = store.assessment_and_entry(self.db, assessment_id, code)
                store.remember_campaign(self.db, assessment_id, found.campaign_id)
                node = store.nodes(self.db, found.campaign_id)[code]
                domain.check_write(who.model_dump(), found.unit_code, current.assignee)
                refuse_not_applicable(node)
                campaign = self._campaign(found.campaign_id)
                score = None
                if inputs:
                    score = Decimal(
                        self.criteria.score_entry(campaign.catalog_id, code, inputs)["score"])
                    store.remember_score(self.db, campaign.catalog_id, code, inputs, score)
                locked = store.locked_for_write(self.db, assessment_id, code)

            if locked is not None:
                found, entry, window = locked
                store.unit_may_write(found)
                now = store.assert_still_open(self.db, window)
            else:
                found = store.assessment(self.db, assessment_id, lock="share")
                store.unit_may_write(found)
                window = store.open_window(self.db, found.campaign_id,
                                           store.window_for(found.status))
                entry = store.entry(self.db, assessment_id, code, lock=True)
                now = store.server_now(self.db)
            # Re-checked under the row lock: the leader may have reassigned meanwhile.
            domain.check_write(who.model_dump(), found.unit_code, entry.assignee)
            self._returned_only(found, entry)
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
            return self._entry_written(found, entry, node, campaign, who, "save",
                                       before, now), window

        return self._idempotent(who, idempotency_key, "save_entry",
                                (assessment_id, code, body.model_dump(mode="json"), expected),
                                work)

    @rpc(expected_exceptions=DomainError)
    def complete_entry(self, assessment_id: int, code: str, actor: dict[str, Any],
                       if_match: Any = None,
                       idempotency_key: str | None = None) -> dict[str, Any]:
        """Hoàn thành: refused without an explanation, or without required evidence."""
        who = parse(Actor, actor)
        expected = domain.parse_if_match(if_match)

        def work() -> tuple[dict[str, Any], Window | None]:
            found, entry, node, window = self._writable_entry(assessment_id, code, who)
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
            campaign = self._campaign(found.campaign_id)
            return self._entry_written(found, entry, node, campaign, who, "complete",
                                       before), window

        return self._idempotent(who, idempotency_key, "complete_entry",
                                (assessment_id, code, expected), work)

    @rpc(expected_exceptions=DomainError)
    def attach_evidence(self, assessment_id: int, code: str, evidence: dict[str, Any],
                        actor: dict[str, Any]) -> dict[str, Any]:
        """The evidence service files a document under an entry (423 once locked)."""
        who = parse(Actor, actor)
        ref = parse(EvidenceRef, evidence)

        def work() -> tuple[dict[str, Any], Window | None]:
            found, entry, node, window = self._writable_entry(assessment_id, code, who)
            before = entry_snapshot(entry)
            kept = [e for e in entry.evidence if str(e["id"]) != str(ref.id)]
            entry.evidence = [*kept, ref.model_dump(mode="json", exclude_none=True)]
            campaign = self._campaign(found.campaign_id)
            return self._entry_written(found, entry, node, campaign, who, "attach_evidence",
                                       before), window

        return self._idempotent(who, None, "attach_evidence", (), work)

    @rpc(expected_exceptions=DomainError)
    def check_writable(self, assessment_id: int, code: str, actor: dict[str, Any]) -> None:
        """Raises what a write of this criterion by ``actor`` would raise now (403, 404,
        423), without writing: asked before costly work such as a PDF's signature check.
        The write itself checks again; this only keeps refused callers from costing."""
        who = parse(Actor, actor)
        with transaction(self.db):
            self._writable_entry(assessment_id, code, who)

    @rpc(expected_exceptions=DomainError)
    def detach_evidence(self, assessment_id: int, code: str, evidence_id: str | int,
                        actor: dict[str, Any]) -> dict[str, Any]:
        who = parse(Actor, actor)

        def work() -> tuple[dict[str, Any], Window | None]:
            found, entry, node, window = self._writable_entry(assessment_id, code, who)
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
            campaign = self._campaign(found.campaign_id)
            return self._entry_written(found, entry, node, campaign, who, "detach_evidence",
                                       before), window

        return self._idempotent(who, None, "detach_evidence", (), work)

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
            reopened = "returned" if found.round > 1 else "draft"
            window = store.open_window(self.db, found.campaign_id, store.window_for(reopened))
            now = store.server_now(self.db)
            before = self._assessment_out(found)
            found.status = reopened
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
                            .values(reopened=Entry.code.in_(codes)))
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

    @rpc(expected_exceptions=DomainError)
    def history(self, assessment_id: int, actor: dict[str, Any]) -> list[dict[str, Any]]:
        who = parse(Actor, actor)
        found = store.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), found.unit_code)
        rows = self.db.scalars(select(Change).where(Change.assessment_id == assessment_id)
                               .order_by(Change.id)).all()
        return [{"id": c.id, "code": c.code, "action": c.action, "actor": c.actor,
                 "at": vn_iso(c.at), "before": c.before, "after": c.after} for c in rows]

    @rpc(expected_exceptions=DomainError)
    def precheck(self, assessment_id: int, actor: dict[str, Any]) -> list[dict[str, Any]]:
        """Kiểm tra trước khi gửi: per criterion, what the council will refuse."""
        who = parse(Actor, actor)
        found = store.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), found.unit_code)
        campaign = self._campaign(found.campaign_id)
        nodes = store.nodes(self.db, found.campaign_id)
        out: list[dict[str, Any]] = []
        for entry in self._entries(found.id):
            node = nodes[entry.code]
            out.extend(precheck.entry_problems(
                code=entry.code, score=entry.score, not_applicable=entry.not_applicable,
                explanation=entry.explanation, evidence=list(entry.evidence or []),
                evidence_rule=node.evidence, rule_kind=(node.rule or {}).get("kind"),
                cutoff=campaign.data_cutoff_date))
        return out

    @rpc(expected_exceptions=DomainError)
    def summary(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        """What the summary to sign shows: the gateway lays it out as PDF and XLSX."""
        who = parse(Actor, actor)
        found = store.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), found.unit_code)
        shown, statuses = self._summary_table(found)
        table_digest = signed_summary.digest(shown)
        rows = [{**row, "status": statuses.get(row["code"])} for row in shown["rows"]]
        return {
            **shown, "rows": rows, "status": found.status,
            "generated_at": vn_iso(store.server_now(self.db)),
            "digest": table_digest, "marker": signed_summary.marker(found.id, table_digest),
        }

    def measure_state(self) -> None:
        gauges.measure_campaigns(self.db)

    # --- The lock instant -------------------------------------------------------------

    @timer(interval=1.0)
    def announce_locks(self) -> None:
        """Publishes window_locked once per window, after its instant has passed."""
        with transaction(self.db):
            now = store.server_now(self.db)
            # FOR UPDATE waits for writers that still hold the row FOR SHARE, so the
            # event leaves after every accepted write has committed.
            due = self.db.scalars(
                select(Window).where(Window.locks_at <= now,
                                     Window.lock_announced_at.is_(None))
                .order_by(Window.id).with_for_update()
            ).all()
            for window in due:
                window.lock_announced_at = now
                record_event(self.db, WINDOW_LOCKED, {
                    "campaign_id": window.campaign_id, "window_id": window.id,
                    "kind": window.kind, "locks_at": vn_iso(window.locks_at)})

    # --- Helpers (not entrypoints) -------------------------------------------------------

    def _announce_window(self, campaign: Campaign, window: Window,
                         unit_codes: list[str]) -> None:
        """window_opened, in the transaction that creates the window (notify's
        announcement and reminders before its lock)."""
        record_event(self.db, WINDOW_OPENED, {
            "campaign_id": campaign.id, "campaign_name": campaign.name,
            "year": campaign.year, "window_id": window.id, "kind": window.kind,
            "opens_at": vn_iso(window.opens_at), "locks_at": vn_iso(window.locks_at),
            "unit_codes": list(unit_codes),
            "reminders_minutes_before_lock": list(campaign.reminders_minutes_before_lock or [])})

    def _admin(self, actor: dict[str, Any]) -> Actor:
        who = parse(Actor, actor)
        if "admin" not in who.roles:
            raise DomainError("forbidden", "Chỉ quản trị được làm / admin only", 403)
        return who

    def _campaign(self, campaign_id: int) -> Campaign:
        campaign = store.campaign(self.db, campaign_id)
        if campaign is None:
            raise not_found("đợt đánh giá / campaign", str(campaign_id))
        return campaign

    def _summary_table(self, found: Assessment) -> tuple[dict[str, Any], dict[str, str]]:
        """What the summary table shows (its digest binds the signed copy) and, apart,
        each entry's status, which the table does not show."""
        campaign = self._campaign(found.campaign_id)
        entries = {e.code: e for e in self._entries(found.id)}
        nodes = store.nodes(self.db, found.campaign_id)
        parents = {c: n.parent_code for c, n in nodes.items()}
        rows = []
        for node in nodes.values():
            entry = entries.get(node.code)
            if entry is None:
                # A field's line shows what its applicable criteria add up to.
                under = [entries[c] for c in domain.leaves_under(parents, entries, node.code)]
                score = sum((e.score for e in under if e.score is not None
                             and not e.not_applicable), Decimal(0))
            rows.append({
                "code": node.code, "title": node.title, "depth": node.depth,
                "max": decimal_text(node.max), "is_leaf": node.is_leaf,
                "score": decimal_text(entry.score if entry else score),
                "not_applicable": entry.not_applicable if entry else False,
                "explanation": entry.explanation if entry else "",
                "evidence": [e["name"] for e in entry.evidence] if entry else [],
            })
        shown = {
            "campaign": {"id": campaign.id, "name": campaign.name, "year": campaign.year},
            "unit_code": found.unit_code, "unit_name": found.unit_name,
            **self._result(campaign, list(entries.values())),
            "rows": rows,
        }
        return shown, {code: e.status for code, e in entries.items()}

    def _entries(self, assessment_id: int) -> list[Entry]:
        return list(self.db.scalars(select(Entry).where(Entry.assessment_id == assessment_id)
                                    .order_by(Entry.id)))

    def _writable_entry(self, assessment_id: int, code: str,
                        who: Actor) -> tuple[Assessment, Entry, Node, Window]:
        found = store.assessment(self.db, assessment_id, lock="share")
        node = store.nodes(self.db, found.campaign_id).get(code)
        if node is None or not node.is_leaf:
            raise not_found("tiêu chí chấm điểm / scorable criterion", code)
        entry = store.entry(self.db, assessment_id, code, lock=True)
        domain.check_write(who.model_dump(), found.unit_code, entry.assignee)
        store.unit_may_write(found)
        window = store.open_window(self.db, found.campaign_id, store.window_for(found.status))
        self._returned_only(found, entry)
        return found, entry, node, window

    @staticmethod
    def _returned_only(found: Assessment, entry: Entry) -> None:
        if found.status == "returned" and not entry.reopened:
            raise DomainError(
                "not_returned",
                "Vòng bổ sung chỉ cho sửa tiêu chí được trả lại / "
                "only returned criteria can change in this round", 423)

    def _entry_written(self, found: Assessment, entry: Entry, node: Node, campaign: Campaign,
                       who: Actor, action: str, before: dict[str, Any],
                       now: datetime | None = None) -> dict[str, Any]:
        # ``now``: the server clock the caller read under the locks, when it has it.
        if now is None:
            now = store.server_now(self.db)
        entry.version += 1
        entry.updated_at, entry.updated_by = now, who.username
        after = entry_snapshot(entry)
        store.record_change(self.db, found.id, entry.code, action, who.username, now,
                            before, after)
        self.db.flush()
        # Totals over this transaction's scores (this entry's row included), added up
        # by the database; only the row of this entry is locked exclusively meanwhile.
        result = domain.totals(*store.applicable_sums(self.db, found.id), campaign.bands)
        record_event(self.db, ENTRY_SAVED, {
            "assessment_id": found.id, "campaign_id": found.campaign_id,
            "unit_code": found.unit_code, "code": entry.code, "action": action,
            "version": entry.version, "score": after["score"],
            "not_applicable": entry.not_applicable, "status": entry.status,
            "actor": who.username})
        return {**self._entry_out(entry, node), "totals": result}

    def _result(self, campaign: Campaign, entries: list[Entry]) -> dict[str, Any]:
        """Total, applicable maximum, index and band of these entries (domain.totals)."""
        applicable = [e for e in entries if not e.not_applicable]
        return domain.totals(
            sum((e.score for e in applicable if e.score is not None), Decimal(0)),
            sum((e.max for e in applicable), Decimal(0)),
            campaign.bands,
        )

    @staticmethod
    def _assessment_out(found: Assessment) -> dict[str, Any]:
        return {"id": found.id, "campaign_id": found.campaign_id, "unit_code": found.unit_code,
                "unit_name": found.unit_name, "status": found.status, "round": found.round,
                "version": found.version,
                "proposed_classification": found.proposed_classification,
                "signed_summary": found.signed_summary,
                "submitted_at": vn_iso(found.submitted_at), "submitted_by": found.submitted_by}

    @staticmethod
    def _entry_out(entry: Entry, node: Node) -> dict[str, Any]:
        return {"code": entry.code, "title": node.title, "max": decimal_text(node.max),
                "rule": node.rule, "evidence_rule": node.evidence,
                "not_applicable_allowed": node.not_applicable_allowed,
                "assignee": entry.assignee, "inputs": entry.inputs,
                "self_score": decimal_text(entry.score), "not_applicable": entry.not_applicable,
                "explanation": entry.explanation, "evidence": entry.evidence,
                "status": entry.status, "returned": entry.reopened, "version": entry.version,
                "updated_at": vn_iso(entry.updated_at), "updated_by": entry.updated_by,
                "appraisal": None}

    @staticmethod
    def _window_out(window: Window, now: datetime) -> dict[str, Any]:
        return {"kind": window.kind, "opens_at": vn_iso(window.opens_at),
                "locks_at": vn_iso(window.locks_at),
                "state": windows.window_state(window.opens_at, window.locks_at, now),
                "is_open": windows.window_state(window.opens_at, window.locks_at, now) == "open"}

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
                    work: WORK) -> dict[str, Any]:
        return store.idempotent(self.db, who.username, key,
                                domain.fingerprint(method, *parts), work)
