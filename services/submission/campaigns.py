"""Đợt đánh giá and its windows: creating them, what they show, and the lock's
announcement (``window_locked``) once a window's instant has passed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nameko.rpc import rpc
from nameko.timer import timer
from sqlalchemy import case, func, select

from services.common import windows
from services.common.contracts import (
    WINDOW_LOCKED,
    WINDOW_OPENED,
)
from services.common.db import transaction
from services.common.errors import DomainError, not_found
from services.common.outbox import record_event
from services.common.times import vn_iso
from services.common.validation import parse
from services.submission import domain, persistence, rounds
from services.submission.models import Assessment, Campaign, Entry, Node, Window
from services.submission.schemas import (
    Actor,
    CampaignIn,
    NewWindow,
)


class Campaigns:
    """Entrypoints of campaigns and windows, inherited by the submission Service."""

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
                assessment = Assessment(campaign_id=campaign.id, unit_code=code,
                                   unit_name=units[code]["name"], status="draft", round=1,
                                   version=1)
                self.db.add(assessment)
                self.db.flush()
                self.db.execute(Entry.__table__.insert(), [
                    {"assessment_id": assessment.id, "code": leaf["code"], "inputs": {},
                     "max": leaf["max"], "not_applicable": False, "explanation": "",
                     "evidence": [], "status": rounds.initial_status(leaf), "returned": False,
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
        now = persistence.server_now(self.db)
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
            return self._window_out(window, persistence.server_now(self.db))

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
        nodes = persistence.nodes(self.db, campaign_id)
        rows = self.db.execute(
            select(Assessment.id, Assessment.unit_code, Assessment.unit_name,
                   Assessment.status, Entry.code, Entry.assignee, Entry.status,
                   Entry.returned)
            .outerjoin(Entry, Entry.assessment_id == Assessment.id)
            .where(Assessment.campaign_id == campaign_id,
                   Assessment.status == ("returned" if supplement else "draft"))
            .order_by(Assessment.unit_code, Entry.id)
        ).all()
        units: dict[int, dict[str, Any]] = {}
        for aid, unit_code, unit_name, status, code, assignee, entry_status, returned in rows:
            unit = units.setdefault(aid, {"assessment_id": aid, "unit_code": unit_code,
                                          "unit_name": unit_name, "status": status,
                                          "incomplete": []})
            if code is None or entry_status == "complete" or (supplement and not returned):
                continue
            unit["incomplete"].append({"code": code, "title": nodes[code].title,
                                       "assignee": assignee})
        return list(units.values())

    @timer(interval=1.0)
    def announce_locks(self) -> None:
        """Publishes window_locked once per window, after its instant has passed."""
        with transaction(self.db):
            now = persistence.server_now(self.db)
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
        campaign = persistence.campaign(self.db, campaign_id)
        if campaign is None:
            raise not_found("đợt đánh giá / campaign", str(campaign_id))
        return campaign

    @staticmethod
    def _window_out(window: Window, now: datetime) -> dict[str, Any]:
        return {"kind": window.kind, "opens_at": vn_iso(window.opens_at),
                "locks_at": vn_iso(window.locks_at),
                "state": windows.window_state(window.opens_at, window.locks_at, now),
                "is_open": windows.window_state(window.opens_at, window.locks_at, now) == "open"}
