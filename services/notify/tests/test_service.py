"""Who gets what, sending over real SMTP and ZNS on loopback, retries, the inbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify.devservers.smtp import DevSmtp
from services.notify.devservers.zns import DevZns
from services.notify.models import Delivery, WatchedWindow
from services.notify.service import Service


def event(**payload: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), **payload}


def titles(notify: Service, username: str) -> list[str]:
    return [n["title"] for n in notify.inbox(username)]


USER = {"username": "u1", "full_name": "Nguyễn Văn A", "email": "a@x.vn",
        "zalo_phone": "0912345678", "roles": ["unit_staff"], "unit_code": "X1"}


def test_an_account_notice_reaches_smtp_and_zalo_once(notify: Service, smtp: DevSmtp,
                                                       zns: DevZns) -> None:
    payload = event(**USER)
    notify.on_user_created(payload)
    notify.on_user_created(payload)  # delivered twice by the broker
    notify.send_deliveries()
    notify.send_deliveries()
    [mail] = smtp.messages
    assert mail["rcpt_tos"] == ["a@x.vn"]
    assert mail["subject"] == "Tài khoản phần mềm đánh giá Chỉ số CCHC đã được tạo"
    assert "Tên đăng nhập: u1" in mail["body"] and "https://cchc.example.gov.vn" in mail["body"]
    assert "Mật khẩu ban đầu do Sở Nội vụ bàn giao" in mail["body"]
    [sms] = zns.messages
    assert sms["phone"] == "84912345678"
    assert sms["template_data"]["ten_dang_nhap"] == "u1"
    [notice] = notify.inbox("u1")
    assert {(d["channel"], d["status"], d["attempts"]) for d in notice["deliveries"]} == {
        ("email", "sent", 1), ("zalo", "sent", 1)}


def test_assignment_tells_each_assignee_their_criteria(notify: Service, smtp: DevSmtp) -> None:
    notify.on_entries_assigned(event(
        assessment_id=11, campaign_id=7, unit_code="X1", actor="lanh.dao", assignments=[
            {"code": "1.1", "title": "Ban hành kế hoạch CCHC năm", "assignee": "can.bo1"},
            {"code": "1.2", "title": "Tỷ lệ hoàn thành kế hoạch", "assignee": "can.bo1"},
            {"code": "2.1", "title": "Kiểm tra công tác CCHC", "assignee": "can.bo2"},
            {"code": "2.2", "title": "Báo cáo định kỳ", "assignee": None}]))
    notify.send_deliveries()
    first, second = smtp.to("canbo1@x1.gov.vn"), smtp.to("canbo2@x1.gov.vn")
    assert len(first) == 1 and len(second) == 1 and len(smtp.messages) == 2
    assert "- 1.1: Ban hành kế hoạch CCHC năm" in first[0]["body"]
    assert "1.2" in first[0]["body"] and "2.1" not in first[0]["body"]
    assert "Hạn cập nhật: 05/10/2025 17:00" in first[0]["body"]
    assert titles(notify, "lanh.dao") == []


def test_returned_criteria_go_to_the_leader_and_the_assignees(notify: Service,
                                                               smtp: DevSmtp) -> None:
    notify.submission.get_assessment_by_id.return_value = {
        "unit_name": "UBND xã Hương Vinh", "round": 2, "entries": [
            {"code": "1.1", "assignee": "can.bo1"}, {"code": "2.1", "assignee": "can.bo2"},
            {"code": "2.2", "assignee": "can.bo1"}]}
    notify.on_criteria_returned(event(
        assessment_id=11, campaign_id=7, unit_code="X1", round=2, items=[
            {"code": "1.1", "title": "Ban hành kế hoạch", "reason": "Văn bản số 30a/KH"},
            {"code": "2.2", "title": "Báo cáo định kỳ", "reason": "Thiếu báo cáo quý III"}]))
    notify.send_deliveries()
    [leader] = smtp.to("lanhdao@x1.gov.vn")
    assert "Lý do: Văn bản số 30a/KH" in leader["body"]
    assert "Lý do: Thiếu báo cáo quý III" in leader["body"]
    [staff] = smtp.to("canbo1@x1.gov.vn")
    assert "1.1" in staff["body"] and "2.2" in staff["body"]
    assert smtp.to("canbo2@x1.gov.vn") == []  # none of theirs came back


def test_a_window_tells_its_leaders_and_a_council_window_the_appraisers(
        notify: Service, session: Session, smtp: DevSmtp) -> None:
    notify.on_window_opened(event(
        campaign_id=7, campaign_name="Đánh giá CCHC 2025", year=2025, window_id=3,
        kind="supplement", opens_at="2025-11-28T07:30:00+07:00",
        locks_at="2025-12-04T17:00:00+07:00", unit_codes=["X1", "X2"],
        reminders_minutes_before_lock=[1440, 120]))
    notify.on_window_opened(event(
        campaign_id=7, campaign_name="Đánh giá CCHC 2025", year=2025, window_id=4,
        kind="appraisal", opens_at="2025-10-06T08:00:00+07:00",
        locks_at="2025-10-20T17:00:00+07:00", unit_codes=["X1", "X2"],
        reminders_minutes_before_lock=[1440]))
    notify.send_deliveries()
    assert {m["rcpt_tos"][0] for m in smtp.messages} == {
        "lanhdao@x1.gov.vn", "lanhdao@x2.gov.vn", "td@snv.gov.vn"}
    [leader] = smtp.to("lanhdao@x1.gov.vn")
    assert "từ 28/11/2025 07:30 đến 04/12/2025 17:00" in leader["body"]
    window = session.get(WatchedWindow, 3)
    assert window.reminders == [1440, 120] and window.kind == "supplement"


def test_receipts_go_to_the_leader(notify: Service, smtp: DevSmtp) -> None:
    notify.on_assessment_submitted(event(
        assessment_id=11, campaign_id=7, unit_code="X1", round=1,
        proposed_classification="Tốt", submitted_by="lanh.dao",
        submitted_at="2025-10-05T16:59:30+07:00", total="82.25", max="100",
        index="82.25", classification="Tốt"))
    notify.on_assessment_withdrawn(event(
        assessment_id=11, campaign_id=7, unit_code="X1", round=1, withdrawn_by="lanh.dao",
        withdrawn_at="2025-10-05T17:00:00+07:00"))
    notify.send_deliveries()
    sent, withdrawn = sorted(smtp.to("lanhdao@x1.gov.vn"), key=lambda m: m["n"])
    assert "Điểm tự đánh giá: 82,25/100 (82,25%), xếp loại Tốt" in sent["body"]
    assert "Thời điểm gửi: 05/10/2025 16:59" in sent["body"]
    assert "Thời điểm rút: 05/10/2025 17:00" in withdrawn["body"]
    assert len(smtp.messages) == 2


def test_results_go_to_every_units_leader(notify: Service, smtp: DevSmtp) -> None:
    notify.on_results_published(event(
        campaign_id=7, name="Đánh giá CCHC 2025", year=2025,
        published_at="2025-12-20T09:00:00+07:00", unit_codes=["X1", "X2"]))
    notify.send_deliveries()
    assert sorted(m["rcpt_tos"][0] for m in smtp.messages) == [
        "lanhdao@x1.gov.vn", "lanhdao@x2.gov.vn"]


def test_preferences_switch_a_channel_off_but_not_returns(notify: Service, smtp: DevSmtp,
                                                           zns: DevZns) -> None:
    assert notify.set_preferences("can.bo1", {"email": False})["email"] is False
    notify.on_entries_assigned(event(
        assessment_id=11, campaign_id=7, unit_code="X1", actor="lanh.dao",
        assignments=[{"code": "1.1", "title": "Kế hoạch", "assignee": "can.bo1"}]))
    notify.submission.get_assessment_by_id.return_value = {
        "unit_name": "UBND xã Hương Vinh", "round": 2,
        "entries": [{"code": "1.1", "assignee": "can.bo1"}]}
    notify.on_criteria_returned(event(
        assessment_id=11, campaign_id=7, unit_code="X1", round=2,
        items=[{"code": "1.1", "title": "Kế hoạch", "reason": "Thiếu chữ ký số"}]))
    notify.send_deliveries()
    [mail] = smtp.to("canbo1@x1.gov.vn")
    assert "trả lại" in mail["subject"]  # the return came by email all the same
    assert len(zns.to("84912000002")) == 2
    assigned = [n for n in notify.inbox("can.bo1") if n["kind"] == "entries_assigned"]
    assert [d["channel"] for d in assigned[0]["deliveries"]] == ["zalo"]


def test_retries_then_sends_and_dead_letters_after_the_last_attempt(
        notify: Service, smtp: DevSmtp, session: Session) -> None:
    smtp.control(fail_next=2)
    notify.on_user_created(event(**{**USER, "zalo_phone": None}))
    for _ in range(3):
        notify.send_deliveries()
    [mail] = smtp.messages
    [notice] = notify.inbox("u1")
    assert notice["deliveries"][0]["status"] == "sent"
    assert notice["deliveries"][0]["attempts"] == 3

    smtp.control(fail_next=100)
    notify.on_user_created(event(**{**USER, "username": "u2", "zalo_phone": None}))
    for _ in range(5):
        notify.send_deliveries()
    [notice] = notify.inbox("u2")
    [dead] = notice["deliveries"]
    assert dead["status"] == "failed" and dead["attempts"] == 3
    assert dead["last_error"].startswith("smtp 451")
    assert len(smtp.messages) == 1


def test_metrics_count_sent_failed_and_the_retry_backlog(notify: Service, smtp: DevSmtp,
                                                          session: Session, cfg: Any) -> None:
    from prometheus_client import REGISTRY

    from services.notify.delivery import update_gauges

    def value(name: str, channel: str = "email") -> float:
        return REGISTRY.get_sample_value(name, {"channel": channel}) or 0.0

    sent, failed = value("cchc_notify_sent_total"), value("cchc_notify_failed_total")
    smtp.control(fail_next=1)
    notify.on_user_created(event(**{**USER, "zalo_phone": None}))
    notify.on_user_created(event(**{**USER, "username": "u2", "email": "b@x.vn",
                                    "zalo_phone": None}))
    smtp.control(reject=["b@x.vn"])
    cfg.notify_retry_base_seconds = cfg.notify_retry_cap_seconds = 3600
    notify.send_deliveries()  # one 451 (waits an hour for another try), one 550 (dead)
    update_gauges(session)
    assert value("cchc_notify_retry_backlog") == 1
    assert value("cchc_notify_failed_total") == failed + 1
    session.execute(Delivery.__table__.update().values(next_attempt_at=datetime.now(UTC)))
    session.commit()
    notify.send_deliveries()
    update_gauges(session)
    assert value("cchc_notify_retry_backlog") == 0
    assert value("cchc_notify_sent_total") == sent + 1


def test_a_refused_address_is_not_retried(notify: Service, smtp: DevSmtp) -> None:
    smtp.control(reject=["a@x.vn"])
    notify.on_user_created(event(**{**USER, "zalo_phone": None}))
    notify.send_deliveries()
    notify.send_deliveries()
    [dead] = notify.inbox("u1")[0]["deliveries"]
    assert dead["status"] == "failed" and dead["attempts"] == 1
    assert "550" in dead["last_error"]


def test_zalo_refreshes_an_invalid_token_once(notify: Service, zns: DevZns) -> None:
    zns.control(expire_token=True)
    notify.on_user_created(event(**{**USER, "email": None}))
    notify.send_deliveries()
    assert zns.refreshes == 1 and len(zns.messages) == 1
    [d] = notify.inbox("u1")[0]["deliveries"]
    assert d["status"] == "sent" and d["attempts"] == 1


def test_zalo_without_an_account_falls_back_to_email(notify: Service, zns: DevZns,
                                                      smtp: DevSmtp) -> None:
    zns.control(no_zalo=["84912345678"])
    notify.on_user_created(event(**USER))
    notify.send_deliveries()
    notify.send_deliveries()
    deliveries = {d["channel"]: d for d in notify.inbox("u1")[0]["deliveries"]}
    assert deliveries["zalo"]["status"] == "failed"
    assert "-118" in deliveries["zalo"]["last_error"]
    # Already had an email: still one email, not two.
    assert deliveries["email"]["status"] == "sent" and len(smtp.messages) == 1


def test_zalo_only_person_gets_the_fallback_email(notify: Service, zns: DevZns,
                                                  smtp: DevSmtp, session: Session) -> None:
    zns.control(no_zalo=["84912000001"])
    notify.on_results_published(event(
        campaign_id=7, name="Đánh giá CCHC 2025", year=2025,
        published_at="2025-12-20T09:00:00+07:00", unit_codes=["X1"]))
    session.execute(Delivery.__table__.delete().where(Delivery.channel == "email"))
    session.commit()
    notify.send_deliveries()
    notify.send_deliveries()
    [mail] = smtp.to("lanhdao@x1.gov.vn")
    assert "Công bố kết quả" in mail["subject"]


def test_a_bad_phone_is_permanent(notify: Service, zns: DevZns) -> None:
    notify.on_user_created(event(**{**USER, "email": None, "zalo_phone": "12"}))
    notify.send_deliveries()
    notify.send_deliveries()
    [d] = notify.inbox("u1")[0]["deliveries"]
    assert d["status"] == "failed" and d["attempts"] == 1 and "-108" in d["last_error"]


def test_zalo_server_errors_are_retried(notify: Service, zns: DevZns) -> None:
    zns.control(fail=[{"error": -500, "times": 1}])
    notify.on_user_created(event(**{**USER, "email": None}))
    notify.send_deliveries()
    notify.send_deliveries()
    [d] = notify.inbox("u1")[0]["deliveries"]
    assert d["status"] == "sent" and d["attempts"] == 2


def test_read_marks_are_the_recipients_own(notify: Service) -> None:
    notify.on_user_created(event(**USER))
    [notice] = notify.inbox("u1")
    assert notify.mark_read("u1", notice["id"])["read_at"]
    assert notify.inbox("u1")[0]["read_at"] is not None
    try:
        notify.mark_read("someone.else", notice["id"])
    except Exception as exc:  # DomainError 404
        assert getattr(exc, "status", None) == 404
    else:
        raise AssertionError("another person marked it read")


def test_deliveries_are_unique_per_event_person_and_channel(notify: Service,
                                                            session: Session) -> None:
    payload = event(**USER)
    notify.on_user_created(payload)
    # Even a handler that lost its claim row records nothing twice.
    session.execute(select(Delivery))
    from services.common.outbox import processed_events
    session.execute(processed_events.delete())
    session.commit()
    notify.on_user_created(payload)
    assert len(session.scalars(select(Delivery)).all()) == 2


def test_replicas_sending_side_by_side_send_each_message_once(
        pg_session: Session, cfg: Any, smtp: DevSmtp, zns: DevZns) -> None:
    import eventlet
    from sqlalchemy.orm import sessionmaker

    from services.notify import delivery
    from services.notify.tests.conftest import make_service
    from services.notify.tokens import DbTokens

    notify = make_service(pg_session)
    for i in range(40):
        notify.on_user_created(event(**{**USER, "username": f"u{i}", "email": f"u{i}@x.vn",
                                        "zalo_phone": f"09120{i:05d}"}))
    smtp.control(delay=0.005)
    engine = pg_session.get_bind()
    tokens = DbTokens(sessionmaker(engine), cfg)
    pool = eventlet.GreenPool()
    jobs = [pool.spawn(delivery.send_due, engine, cfg, tokens) for _ in range(3)]
    assert sum(j.wait() for j in jobs) == 80
    assert sorted(m["rcpt_tos"][0] for m in smtp.messages) == sorted(
        f"u{i}@x.vn" for i in range(40))
    assert len({m["tracking_id"] for m in zns.messages}) == len(zns.messages) == 40


def test_email_goes_over_starttls_with_credentials(notify: Service, cfg: Any, smtp: DevSmtp,
                                                   tmp_path: Any) -> None:
    import ssl
    from datetime import timedelta
    from ipaddress import IPv4Address

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from services.notify.tests.conftest import free_port

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smtp.snv.gov.vn")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    # Under eventlet two asyncio loops cannot share the one OS thread: one server at a time.
    smtp.stop()
    relay = DevSmtp("127.0.0.1", free_port(), tls_context=context,
                    credentials=("cchc", "mat-khau-smtp")).start()
    try:
        cfg.smtp_port = relay.port
        cfg.zalo_enabled = False
        # Without STARTTLS the relay refuses: retried, never accepted in clear.
        notify.on_user_created(event(**USER))
        notify.send_deliveries()
        [d] = notify.inbox("u1")[0]["deliveries"]
        assert d["status"] in ("queued", "failed") and relay.messages == []
        assert "530" in d["last_error"]
        cfg.smtp_starttls, cfg.smtp_ca_file = True, str(tmp_path / "cert.pem")
        cfg.smtp_username, cfg.smtp_password = "cchc", "sai"
        notify.on_user_created(event(**{**USER, "username": "u2", "email": "b@x.vn"}))
        notify.send_deliveries()
        assert relay.messages == []  # wrong password: 535
        cfg.smtp_password = "mat-khau-smtp"
        notify.on_user_created(event(**{**USER, "username": "u3", "email": "c@x.vn"}))
        notify.send_deliveries()
        assert [m["rcpt_tos"] for m in relay.messages] == [["c@x.vn"]]
    finally:
        relay.stop()


def test_a_tick_with_nothing_due_reads_once_and_starts_no_sender(
        pg_session: Session, cfg: Any, smtp: DevSmtp, zns: DevZns) -> None:
    """Twice a second on every replica: one read, not a lease attempt per sender."""
    from sqlalchemy import event as sa_event
    from sqlalchemy.orm import sessionmaker

    from services.notify import delivery
    from services.notify.tests.conftest import make_service
    from services.notify.tokens import DbTokens

    notify = make_service(pg_session)
    notify.on_user_created(event(**{**USER, "zalo_phone": None}))  # one email, no Zalo
    engine = pg_session.get_bind()
    tokens = DbTokens(sessionmaker(engine), cfg)
    sent: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        assert delivery.send_due(engine, cfg, tokens) == 1
        sent.clear()
        assert delivery.send_due(engine, cfg, tokens) == 0
        assert len(sent) == 1 and "FROM deliveries" in sent[0], sent
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)
    assert len(smtp.messages) == 1
