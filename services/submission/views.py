"""What an assessment shows: the assessment with its entries, its history, the
precheck before sending and the summary to sign; and the serializers the writes share."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from nameko.rpc import rpc
from sqlalchemy import select

from services.common import scoring
from services.common.errors import DomainError, not_found
from services.common.times import vn_iso
from services.common.validation import parse
from services.submission import domain, persistence, precheck, signed_summary
from services.submission.models import Assessment, Campaign, Change, Entry, Node
from services.submission.schemas import (
    Actor,
)


class Views:
    """Entrypoints of what an assessment shows, inherited by the submission Service."""

    @rpc(expected_exceptions=DomainError)
    def get_assessment(self, campaign_id: int, unit_code: str,
                       actor: dict[str, Any]) -> dict[str, Any]:
        self._campaign(campaign_id)
        assessment = self.db.scalars(select(Assessment).where(
            Assessment.campaign_id == campaign_id, Assessment.unit_code == unit_code)).first()
        if assessment is None:
            raise not_found("bản đánh giá / assessment", f"{campaign_id}/{unit_code}")
        return self.get_assessment_by_id(assessment.id, actor)

    @rpc(expected_exceptions=DomainError)
    def get_assessment_by_id(self, assessment_id: int, actor: dict[str, Any]) -> dict[str, Any]:
        who = parse(Actor, actor)
        assessment = persistence.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), assessment.unit_code)
        entries = self._entries(assessment.id)
        nodes = persistence.nodes(self.db, assessment.campaign_id)
        campaign = self._campaign(assessment.campaign_id)
        return {
            **self._assessment_out(assessment),
            **self._result(campaign, entries),
            "entries": [self._entry_out(e, nodes[e.code]) for e in entries],
        }

    @rpc(expected_exceptions=DomainError)
    def history(self, assessment_id: int, actor: dict[str, Any]) -> list[dict[str, Any]]:
        who = parse(Actor, actor)
        assessment = persistence.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), assessment.unit_code)
        rows = self.db.scalars(select(Change).where(Change.assessment_id == assessment_id)
                               .order_by(Change.id)).all()
        return [{"id": c.id, "code": c.code, "action": c.action, "actor": c.actor,
                 "at": vn_iso(c.at), "before": c.before, "after": c.after} for c in rows]

    @rpc(expected_exceptions=DomainError)
    def precheck(self, assessment_id: int, actor: dict[str, Any]) -> list[dict[str, Any]]:
        """Kiểm tra trước khi gửi: per criterion, what the council will refuse."""
        who = parse(Actor, actor)
        assessment = persistence.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), assessment.unit_code)
        campaign = self._campaign(assessment.campaign_id)
        nodes = persistence.nodes(self.db, assessment.campaign_id)
        out: list[dict[str, Any]] = []
        for entry in self._entries(assessment.id):
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
        assessment = persistence.assessment(self.db, assessment_id)
        domain.check_read(who.model_dump(), assessment.unit_code)
        shown, statuses = self._summary_table(assessment)
        table_digest = signed_summary.digest(shown)
        rows = [{**row, "status": statuses.get(row["code"])} for row in shown["rows"]]
        return {
            **shown, "rows": rows, "status": assessment.status,
            "generated_at": vn_iso(persistence.server_now(self.db)),
            "digest": table_digest, "marker": signed_summary.marker(assessment.id, table_digest),
        }

    def _summary_table(self, assessment: Assessment) -> tuple[dict[str, Any], dict[str, str]]:
        """What the summary table shows (its digest binds the signed copy) and, apart,
        each entry's status, which the table does not show."""
        campaign = self._campaign(assessment.campaign_id)
        entries = {e.code: e for e in self._entries(assessment.id)}
        nodes = persistence.nodes(self.db, assessment.campaign_id)
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
                "max": scoring.text(node.max), "is_leaf": node.is_leaf,
                "score": scoring.text(entry.score if entry else score),
                "not_applicable": entry.not_applicable if entry else False,
                "explanation": entry.explanation if entry else "",
                "evidence": [e["name"] for e in entry.evidence] if entry else [],
            })
        shown = {
            "campaign": {"id": campaign.id, "name": campaign.name, "year": campaign.year},
            "unit_code": assessment.unit_code, "unit_name": assessment.unit_name,
            **self._result(campaign, list(entries.values())),
            "rows": rows,
        }
        return shown, {code: e.status for code, e in entries.items()}

    def _entries(self, assessment_id: int) -> list[Entry]:
        return list(self.db.scalars(select(Entry).where(Entry.assessment_id == assessment_id)
                                    .order_by(Entry.id)))

    def _result(self, campaign: Campaign, entries: list[Entry]) -> dict[str, Any]:
        """Total, applicable maximum, index and band of these entries (common/scoring.py)."""
        lines = [scoring.Line(e.score, e.max, not e.not_applicable) for e in entries]
        return scoring.result(lines, campaign.bands).as_json(index_cents=True)

    @staticmethod
    def _assessment_out(assessment: Assessment) -> dict[str, Any]:
        return {"id": assessment.id, "campaign_id": assessment.campaign_id,
                "unit_code": assessment.unit_code, "unit_name": assessment.unit_name,
                "status": assessment.status, "round": assessment.round,
                "version": assessment.version,
                "proposed_classification": assessment.proposed_classification,
                "signed_summary": assessment.signed_summary,
                "submitted_at": vn_iso(assessment.submitted_at),
                "submitted_by": assessment.submitted_by}

    @staticmethod
    def _entry_out(entry: Entry, node: Node) -> dict[str, Any]:
        return {"code": entry.code, "title": node.title, "max": scoring.text(node.max),
                "rule": node.rule, "evidence_rule": node.evidence,
                "not_applicable_allowed": node.not_applicable_allowed,
                "assignee": entry.assignee, "inputs": entry.inputs,
                "self_score": scoring.text(entry.score), "not_applicable": entry.not_applicable,
                "explanation": entry.explanation, "evidence": entry.evidence,
                "status": entry.status, "returned": entry.returned, "version": entry.version,
                "updated_at": vn_iso(entry.updated_at), "updated_by": entry.updated_by,
                "appraisal": None}
