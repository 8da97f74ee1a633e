"""The gauges behind the "lock approaching, many units unsent" alert."""

from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY
from sqlalchemy import update

from services.common.db import transaction
from services.common.outbox import record_event
from services.submission.models import Assessment, Window
from services.submission.tests.conftest import window


def units(campaign_id: int, state: str) -> float | None:
    return REGISTRY.get_sample_value(
        "cchc_campaign_units",
        {"campaign_id": str(campaign_id), "window": "self_assessment", "state": state})


def locks_at(campaign_id: int) -> float | None:
    return REGISTRY.get_sample_value(
        "cchc_window_locks_at_timestamp_seconds",
        {"campaign_id": str(campaign_id), "window": "self_assessment"})


def test_open_window_exports_units_sent_and_not_and_its_lock(service, campaign, session):
    ids = campaign(self_assessment=window(-timedelta(hours=1), timedelta(hours=2)))
    later = campaign(self_assessment=window(timedelta(days=1), timedelta(days=2)))
    with transaction(session):
        session.execute(update(Assessment).where(Assessment.id == ids["X1"])
                        .values(status="submitted"))
    service.measure()
    assert units(ids["id"], "sent") == 1 and units(ids["id"], "unsent") == 1
    expected = (datetime.now(UTC) + timedelta(hours=2)).timestamp()
    assert abs(locks_at(ids["id"]) - expected) < 60
    # A window not open yet says nothing: there is nothing to send to it.
    assert units(later["id"], "unsent") is None and locks_at(later["id"]) is None

    # Once the window locked, its series go away instead of staying at their last value.
    with transaction(session):
        session.execute(update(Window).where(Window.campaign_id == ids["id"])
                        .values(locks_at=datetime.now(UTC) - timedelta(seconds=1)))
    service.measure()
    assert units(ids["id"], "sent") is None and locks_at(ids["id"]) is None


def test_measure_exports_the_outbox_backlog(service, session):
    with transaction(session):
        record_event(session, "test_event", {})
    service.measure()
    pending = REGISTRY.get_sample_value("cchc_outbox_pending_events", {"service": "submission"})
    assert pending and pending >= 1
