"""Who gets what (ai nhận thông báo nào), from an event and what identity and
submission say about the people and the assessment.

Every function returns ``Notice``s: a kind (the template's name), a person and the
template's context. Nothing here writes; inbox.record does, in the transaction that
claims the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common.actor import sign_actor
from services.notify.domain import KIND_LABELS, UNIT_WINDOWS, Person, remaining

# Notify reads assessments as the system, never as a person who might lack the right;
# signed like the gateway's actors (services/common/actor.py), freshly for each call.
SYSTEM_ACTOR = {"username": "notify", "roles": ["admin"], "unit_code": None,
                "department_code": None}


@dataclass(frozen=True)
class Notice:
    kind: str
    person: Person
    context: dict[str, Any]


def _leaders(identity: Any, unit_code: str) -> list[Person]:
    return [Person.of(u) for u in identity.list_users(unit_code=unit_code, role="unit_leader")]


def _leaders_of(identity: Any, unit_codes: list[str]) -> dict[str, list[Person]]:
    """Every listed unit's leaders, from one call however many units there are."""
    wanted = set(unit_codes)
    out: dict[str, list[Person]] = {}
    for user in identity.list_users(role="unit_leader"):
        if user.get("unit_code") in wanted:
            out.setdefault(user["unit_code"], []).append(Person.of(user))
    return out


def _unit_name(campaign: dict[str, Any], unit_code: str) -> str:
    for unit in campaign.get("units", []):
        if unit["unit_code"] == unit_code:
            return unit["unit_name"]
    return unit_code


def _locks_at(campaign: dict[str, Any], kind: str) -> str | None:
    window = (campaign.get("windows") or {}).get(kind)
    return window["locks_at"] if window else None


def account_created(payload: dict[str, Any], public_url: str) -> list[Notice]:
    """The new account's owner: how to sign in, never the password."""
    person = Person.of(payload)
    return [Notice("account_created", person, {
        "full_name": person.full_name, "username": person.username, "public_url": public_url})]


def entries_assigned(payload: dict[str, Any], identity: Any, submission: Any) -> list[Notice]:
    """Each assignee, with the criteria given to them."""
    by_assignee: dict[str, list[dict[str, str]]] = {}
    for item in payload.get("assignments") or []:
        if item.get("assignee"):
            by_assignee.setdefault(item["assignee"], []).append(
                {"code": item["code"], "title": item.get("title") or ""})
    if not by_assignee:
        return []
    campaign = submission.get_campaign(payload["campaign_id"])
    people = {u["username"]: Person.of(u)
              for u in identity.list_users(unit_code=payload["unit_code"])}
    base = {"campaign_name": campaign["name"],
            "unit_name": _unit_name(campaign, payload["unit_code"]),
            "locks_at": _locks_at(campaign, "self_assessment")}
    return [Notice("entries_assigned", people[name],
                   {**base, "full_name": people[name].full_name, "items": items})
            for name, items in sorted(by_assignee.items()) if name in people]


def criteria_returned(payload: dict[str, Any], identity: Any, submission: Any) -> list[Notice]:
    """The unit's leaders (every returned criterion) and each assignee (theirs)."""
    assessment = submission.get_assessment_by_id(payload["assessment_id"],
                                                 sign_actor(SYSTEM_ACTOR))
    assignee = {e["code"]: e.get("assignee") for e in assessment.get("entries", [])}
    items = [{"code": i["code"], "title": i.get("title") or "", "reason": i.get("reason") or ""}
             for i in payload.get("items") or []]
    base = {"unit_name": assessment.get("unit_name") or payload["unit_code"],
            "round": payload.get("round") or assessment.get("round")}
    members = {u["username"]: Person.of(u)
               for u in identity.list_users(unit_code=payload["unit_code"])}
    notices = []
    leaders = [p for p in _leaders(identity, payload["unit_code"])]
    for person in leaders:
        notices.append(Notice("criteria_returned", person,
                              {**base, "full_name": person.full_name, "items": items}))
    led = {p.username for p in leaders}
    mine: dict[str, list[dict[str, str]]] = {}
    for item in items:
        name = assignee.get(item["code"])
        if name and name not in led:
            mine.setdefault(name, []).append(item)
    for name, own in sorted(mine.items()):
        if name in members:
            notices.append(Notice("criteria_returned", members[name],
                                  {**base, "full_name": members[name].full_name,
                                   "items": own}))
    return notices


def window_opened(payload: dict[str, Any], identity: Any) -> list[Notice]:
    """A unit window: the leaders of the units in it. A council window: the appraisers."""
    council = payload["kind"] not in UNIT_WINDOWS
    if council:
        people = [Person.of(u) for u in identity.list_users(role="appraiser")]
    else:
        leaders = _leaders_of(identity, payload.get("unit_codes") or [])
        people = [p for code in sorted(leaders) for p in leaders[code]]
    base = {"campaign_name": payload["campaign_name"], "year": payload.get("year"),
            "kind_label": KIND_LABELS.get(payload["kind"], payload["kind"]),
            "opens_at": payload["opens_at"], "locks_at": payload["locks_at"],
            "council": council}
    return [Notice("window_opened", p, {**base, "full_name": p.full_name}) for p in people]


def receipt(kind: str, payload: dict[str, Any], identity: Any, submission: Any) -> list[Notice]:
    """Sending and withdrawing: a receipt to the unit's leaders."""
    campaign = submission.get_campaign(payload["campaign_id"])
    base = {**payload, "campaign_name": campaign["name"],
            "unit_name": _unit_name(campaign, payload["unit_code"])}
    base.setdefault("classification", None)
    return [Notice(kind, p, {**base, "full_name": p.full_name})
            for p in _leaders(identity, payload["unit_code"])]


def results_published(payload: dict[str, Any], identity: Any, public_url: str) -> list[Notice]:
    """Every unit's leader."""
    leaders = _leaders_of(identity, payload.get("unit_codes") or [])
    base = {"campaign_name": payload["name"], "year": payload.get("year"),
            "published_at": payload["published_at"], "public_url": public_url}
    return [Notice("results_published", p, {**base, "full_name": p.full_name})
            for code in sorted(leaders) for p in leaders[code]]


def reminder(window: dict[str, Any], minutes: int, pending: list[dict[str, Any]],
             identity: Any) -> list[Notice]:
    """Units that have not sent: their leaders (all that is incomplete) and each
    assignee with incomplete criteria (theirs)."""
    leaders = _leaders_of(identity, [u["unit_code"] for u in pending])
    base = {"campaign_name": window["campaign_name"],
            "kind_label": KIND_LABELS.get(window["kind"], window["kind"]),
            "locks_at": window["locks_at"], "remaining": remaining(minutes)}
    notices = []
    for unit in pending:
        items = unit.get("incomplete") or []
        ctx = {**base, "unit_name": unit.get("unit_name") or unit["unit_code"]}
        heads = leaders.get(unit["unit_code"], [])
        for person in heads:
            notices.append(Notice("reminder", person, {
                **ctx, "full_name": person.full_name, "items": items, "leader": True}))
        led = {p.username for p in heads}
        mine: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item.get("assignee") and item["assignee"] not in led:
                mine.setdefault(item["assignee"], []).append(item)
        if mine:
            members = {u["username"]: Person.of(u)
                       for u in identity.list_users(unit_code=unit["unit_code"])}
            for name, own in sorted(mine.items()):
                if name in members:
                    notices.append(Notice("reminder", members[name], {
                        **ctx, "full_name": members[name].full_name, "items": own,
                        "leader": False}))
    return notices
