"""Notifications over the whole system: real SMTP and ZNS servers on loopback, events
from the real services (and, for appraisal's, published on the real broker), the
inbox through the gateway, reminders at their instant, and kill -9 mid-batch."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nameko.standalone.events import event_dispatcher
from sqlalchemy import create_engine, text

from gateway.rpc import RpcClient
from services.common.actor import sign_actor
from services.common.contracts import (
    APPRAISAL,
    CRITERIA_RETURNED,
    IDENTITY,
    NOTIFY,
    RESULTS_PUBLISHED,
)
from services.notify.devservers.smtp import DevSmtp
from services.notify.devservers.zns import DevZns
from services.notify.domain import VIETNAM
from tests.conftest import BOTH_BACKENDS, USER_PASSWORD, bearer
from tests.system import AMQP, System
from tests.test_submission import SMALL, _finish, campaign  # noqa: F401 - a fixture


def wait_for(check: Callable[[], Any], seconds: float = 20, every: float = 0.2) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(every)
    raise AssertionError(f"not within {seconds}s")


def publish(source: str, kind: str, payload: dict[str, Any]) -> None:
    event_dispatcher({"AMQP_URI": AMQP, "serializer": "json"})(
        source, kind, {"event_id": str(uuid.uuid4()), **payload})


def rpc_call(amqp: str, service: str, method: str, *args: Any, **kwargs: Any) -> Any:
    async def go() -> Any:
        client = RpcClient(amqp)
        await client.connect()
        try:
            return await client.call(service, method, *args, **kwargs)
        finally:
            await client.close()

    return asyncio.run(go())


def notify_db(system: System) -> Any:
    return create_engine(system.database_url(NOTIFY))


def phone() -> str:
    return "09" + "".join(random.choice("0123456789") for _ in range(8))


@pytest.fixture
def person(http: httpx.Client, admin_headers: dict[str, str]) -> Callable[..., dict[str, Any]]:
    """An account with an email and a Zalo number, its issued password changed."""

    def make(roles: str, unit_code: str | None, zalo: bool = True) -> dict[str, Any]:
        username = f"n{uuid.uuid4().hex[:10]}"
        user = {"username": username, "full_name": "Nguyễn Thị Thông Báo", "roles": [roles],
                "unit_code": unit_code, "email": f"{username}@xa.gov.vn",
                "zalo_phone": phone() if zalo else None}
        created = http.post("/api/v1/users", headers=admin_headers, json=user)
        assert created.status_code == 201, created.text
        issued = created.json()["initial_password"]
        first = http.post("/api/v1/auth/login", json={"username": username,
                                                       "password": issued})
        changed = http.post("/api/v1/auth/password",
                            headers=bearer(first.json()["access_token"]),
                            json={"old_password": issued, "new_password": USER_PASSWORD})
        assert changed.status_code == 200, changed.text
        return {**user, "initial_password": issued,
                "headers": bearer(changed.json()["access_token"]),
                "zns_phone": "84" + user["zalo_phone"][1:] if zalo else None}

    return make


def inbox(http: httpx.Client, who: dict[str, Any]) -> list[dict[str, Any]]:
    response = http.get("/api/v1/notifications", headers=who["headers"])
    assert response.status_code == 200, response.text
    return response.json()


def notice(http: httpx.Client, who: dict[str, Any], kind: str, sent: bool = True) -> dict:
    def found() -> dict | None:
        for n in inbox(http, who):
            if n["kind"] == kind and (not sent or all(
                    d["status"] == "sent" for d in n["deliveries"])):
                return n
        return None

    return wait_for(found)


@BOTH_BACKENDS
def test_accounts_assignments_and_the_inbox(http, unit, campaign, person, smtp: DevSmtp,  # noqa: F811
                                            zns: DevZns, current_system: System) -> None:
    code = unit()
    leader, staff = person("unit_leader", code), person("unit_staff", code)
    # An account created: its owner, by email and Zalo, with how to sign in, no password.
    account = notice(http, staff, "account_created")
    [mail] = smtp.to(staff["email"])
    assert mail["subject"] == "Tài khoản phần mềm đánh giá Chỉ số CCHC đã được tạo"
    assert f"Tên đăng nhập: {staff['username']}" in mail["body"]
    assert staff["initial_password"] not in mail["body"]
    [sms] = zns.to(staff["zns_phone"])
    assert sms["template_data"]["ten_dang_nhap"] == staff["username"]
    assert {d["channel"] for d in account["deliveries"]} == {"email", "zalo"}

    c = campaign([code])
    opened = notice(http, leader, "window_opened")
    assert "Thời hạn tự đánh giá" in opened["title"]
    # Assignment: the assignee, with the codes given to them; the leader gets none.
    response = http.put(f"/api/v1/assessments/{c[code]}/assignments",
                        headers=leader["headers"], json={"1": staff["username"]})
    assert response.status_code == 200, response.text
    assigned = notice(http, staff, "entries_assigned")
    assert "- 1.1: Ban hành kế hoạch CCHC năm" in assigned["body"]
    assert "- 1.2: Tỷ lệ hoàn thành kế hoạch" in assigned["body"]
    assert len(smtp.to(staff["email"])) == 2 and len(zns.to(staff["zns_phone"])) == 2
    assert all(n["kind"] != "entries_assigned" for n in inbox(http, leader))

    # Read marks: one's own only; someone else's is as absent as a missing one.
    other = http.post(f"/api/v1/notifications/{assigned['id']}/read",
                      headers=leader["headers"])
    assert other.status_code == 404 and other.headers["content-type"].startswith(
        "application/problem+json")
    mine = http.post(f"/api/v1/notifications/{assigned['id']}/read", headers=staff["headers"])
    assert mine.status_code == 200 and mine.json()["read_at"]
    got = {n["id"]: n for n in inbox(http, staff)}
    assert got[assigned["id"]]["read_at"] and got[account["id"]]["read_at"] is None
    assert http.get("/api/v1/notifications").status_code == 401
    metrics = httpx.get(f"http://127.0.0.1:{current_system.service_port(NOTIFY)}/metrics",
                        timeout=5).text
    for line in ('cchc_notify_sent_total{channel="email"}',
                 'cchc_notify_sent_total{channel="zalo"}',
                 'cchc_notify_retry_backlog{channel="email"}'):
        assert line in metrics


def test_preferences_turn_email_off_but_not_returned_criteria(
        http, unit, campaign, person, smtp: DevSmtp, zns: DevZns) -> None:  # noqa: F811
    code = unit()
    leader, staff = person("unit_leader", code), person("unit_staff", code)
    bad = http.put("/api/v1/me/preferences", headers=staff["headers"], json={"email": "no"})
    assert bad.status_code == 422
    assert http.put("/api/v1/me/preferences", headers=staff["headers"],
                    json={"fax": False}).status_code == 422
    off = http.put("/api/v1/me/preferences", headers=staff["headers"], json={"email": False})
    assert off.status_code == 200 and off.json()["email"] is False
    assert "criteria_returned" in off.json()["always_sent"]
    assert http.get("/api/v1/me/preferences", headers=staff["headers"]).json()["email"] is False
    c = campaign([code])
    notice(http, staff, "account_created")
    before = len(smtp.to(staff["email"]))
    http.put(f"/api/v1/assessments/{c[code]}/assignments", headers=leader["headers"],
             json={"2.1": staff["username"]})
    assigned = notice(http, staff, "entries_assigned")
    assert [d["channel"] for d in assigned["deliveries"]] == ["zalo"]
    assert len(smtp.to(staff["email"])) == before
    # appraisal's event, published on the real broker as that service will
    publish(APPRAISAL, CRITERIA_RETURNED, {
        "assessment_id": c[code], "campaign_id": c["id"], "unit_code": code, "round": 2,
        "items": [{"code": "2.1", "title": "Kiểm tra công tác CCHC",
                   "reason": "Văn bản số 30a/KH-UBND có hậu tố chữ: 0 điểm"},
                  {"code": "2.2", "title": "Báo cáo định kỳ", "reason": "Thiếu báo cáo quý"}]})
    returned = notice(http, staff, "criteria_returned")
    assert {d["channel"] for d in returned["deliveries"]} == {"email", "zalo"}
    assert "2.1" in returned["body"] and "2.2" not in returned["body"]
    to_leader = notice(http, leader, "criteria_returned")
    assert "Lý do: Văn bản số 30a/KH-UBND có hậu tố chữ: 0 điểm" in to_leader["body"]
    assert "Lý do: Thiếu báo cáo quý" in to_leader["body"]
    assert "trả lại 2 tiêu chí" in smtp.to(leader["email"])[-1]["subject"]


def test_results_published_reach_every_units_leader(http, unit, person,  # noqa: F811
                                                    smtp: DevSmtp) -> None:
    codes = [unit() for _ in range(3)]
    leaders = [person("unit_leader", code, zalo=False) for code in codes]
    publish(APPRAISAL, RESULTS_PUBLISHED, {
        "campaign_id": 999, "name": "Đánh giá Chỉ số CCHC năm 2025", "year": 2025,
        "published_at": "2026-01-15T09:00:00+07:00", "unit_codes": codes[:2]})
    for leader in leaders[:2]:
        got = notice(http, leader, "results_published")
        assert "15/01/2026 09:00" in got["body"]
    time.sleep(1)
    assert all(n["kind"] != "results_published" for n in inbox(http, leaders[2]))


def test_a_reminder_at_its_instant_to_units_not_sent_and_receipts_to_those_sent(
        http, unit, admin_headers, person, smtp: DevSmtp, system: System,
        signed_summary) -> None:  # noqa: F811
    late, done = unit(), unit()
    leader, staff = person("unit_leader", late), person("unit_staff", late, zalo=False)
    sender = person("unit_leader", done)
    catalog = http.post("/api/v1/catalogs", headers=admin_headers, json=SMALL).json()["id"]
    now = datetime.now(UTC)
    locks_at = (now + timedelta(seconds=95)).replace(microsecond=0)
    created = http.post("/api/v1/campaigns", headers=admin_headers, json={
        "name": "Đánh giá CCHC 2025 (nhắc hạn)", "year": 2025, "catalog_id": catalog,
        "unit_codes": [late, done], "reminders_minutes_before_lock": [1],
        "windows": {"self_assessment": {"opens_at": (now - timedelta(hours=1)).isoformat(),
                                        "locks_at": locks_at.isoformat()}}})
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    units = {u["unit_code"]: u["assessment_id"] for u in http.get(
        f"/api/v1/campaigns/{cid}", headers=admin_headers).json()["units"]}
    notice(http, leader, "window_opened", sent=False)
    assert http.put(f"/api/v1/assessments/{units[late]}/assignments", headers=leader["headers"],
                    json={"1.1": staff["username"]}).status_code == 200
    # The other unit sends, takes it back, sends again: a receipt each time.
    aid = units[done]
    _finish(http, aid, done, sender["headers"])
    form = {"proposed_classification": "Tốt"}
    for step in ("submit", "withdraw", "submit"):
        files = {"signed_summary": signed_summary(aid, sender["headers"])} \
            if step == "submit" else None
        response = http.post(f"/api/v1/assessments/{aid}/{step}", headers=sender["headers"],
                             files=files, data=form if files else None)
        assert response.status_code == 200, response.text
    receipts = wait_for(lambda: (lambda got: got if len(got) == 3 else None)(
        [n for n in inbox(http, sender) if n["kind"].startswith("assessment_")]))
    # Each kind has its own consumer, so two receipts may be recorded in either order.
    assert sorted(n["kind"] for n in receipts) == [
        "assessment_submitted", "assessment_submitted", "assessment_withdrawn"]
    assert all("Điểm tự đánh giá: 7,5/8" in n["body"] for n in receipts
               if n["kind"] == "assessment_submitted")

    instant = locks_at - timedelta(minutes=1)
    assert datetime.now(UTC) < instant, "set-up took longer than the minute before the lock"
    reminder = wait_for(lambda: next((n for n in inbox(http, leader)
                                      if n["kind"] == "reminder"), None), seconds=70)
    created_at = datetime.fromisoformat(reminder["created_at"])
    assert instant <= created_at <= instant + timedelta(seconds=3), (instant, created_at)
    shown = locks_at.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
    assert f"khóa lúc {shown}" in reminder["title"]
    assert "còn 1 phút" in reminder["body"] and "1.1" in reminder["body"]
    mine = notice(http, staff, "reminder", sent=False)
    assert "1.1" in mine["body"] and "1.2" not in mine["body"]
    wait_for(lambda: any("Nhắc hạn" in m["subject"] for m in smtp.to(staff["email"])))
    # Nothing to the unit that sent (nothing after the lock: test_reminders, by the clock).
    time.sleep(2)
    assert all(n["kind"] != "reminder" for n in inbox(http, sender))
    assert [n["kind"] for n in inbox(http, leader)].count("reminder") == 1


def test_kill_9_mid_batch_neither_loses_nor_repeats(
        system: System, smtp: DevSmtp, zns: DevZns) -> None:
    tag = uuid.uuid4().hex[:6]
    prefix = random.randrange(100, 999)
    users = [{"username": f"k{tag}{i:02d}", "full_name": f"Cán bộ {i}", "roles": ["viewer"],
              "email": f"k{tag}{i:02d}@xa.gov.vn", "zalo_phone": f"0913{prefix}{i:03d}"}
             for i in range(40)]
    phones = {"84" + u["zalo_phone"][1:] for u in users}
    emails = {u["email"] for u in users}

    def at_servers() -> tuple[list[str], list[str]]:
        return ([m["rcpt_tos"][0] for m in list(smtp.messages) if m["rcpt_tos"][0] in emails],
                [m["phone"] for m in list(zns.messages) if m["phone"] in phones])

    def recorded() -> dict[str, int]:
        with notify_db(system).connect() as db:
            rows = db.execute(text(
                "SELECT channel, count(*) FROM deliveries WHERE status = 'sent' AND "
                "username LIKE :p GROUP BY channel"), {"p": f"k{tag}%"}).all()
        return dict(rows)

    smtp.control(delay=0.15)
    zns.control(delay=0.15)
    try:
        rpc_call(system.amqp, IDENTITY, "create_users", users,
                 actor=sign_actor({"username": "test", "roles": ["admin"]}))
        wait_for(lambda: all(len(x) >= 6 for x in at_servers()), seconds=30, every=0.05)
        # Mid-batch: new transactions wait at the servers; those under way finish and
        # are recorded, then notify dies with leases held and messages queued.
        smtp.control(hold=True)
        zns.control(hold=True)
        # Nothing under way at a server, and notify has recorded all they accepted,
        # three looks in a row (a message whose dot is still on the wire shows up busy).
        def settled() -> bool:
            for _ in range(3):
                quiet = smtp.busy == zns.busy == 0
                mails, sms = at_servers()
                if not (quiet and recorded() == {"email": len(mails), "zalo": len(sms)}
                        and smtp.busy == zns.busy == 0):
                    return False
                time.sleep(0.05)
            return True

        wait_for(settled, seconds=20, every=0.05)
        system.kill(NOTIFY)
        mails, sms = at_servers()
        assert len(mails) < 40 and len(sms) < 40, "the batch was over before the kill"
    finally:
        smtp.control(hold=False, delay=0)
        zns.control(hold=False, delay=0)
    system.start_service(NOTIFY)
    wait_for(lambda: all(len(set(x)) == 40 for x in at_servers()), seconds=60)
    time.sleep(6)  # past the lease: anything taken twice would have gone by now
    mails, sms = at_servers()
    assert sorted(mails) == sorted(emails) and sorted(sms) == sorted(phones)
    assert recorded() == {"email": 40, "zalo": 40}
    system.wait_ready(60)
