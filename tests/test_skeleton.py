"""The walking skeleton: six services on RabbitMQ behind one gateway."""

import asyncio
import time

import httpx
import pytest

from gateway.rpc import RpcClient
from services.common.actor import sign_actor
from services.common.contracts import IDENTITY, NOTIFY, SERVICES
from tests.system import AMQP, System


def test_readyz_reports_all_six_services(http: httpx.Client) -> None:
    response = http.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["broker"] == "ok"
    assert {s: v["status"] for s, v in body["services"].items()} == {s: "ok" for s in SERVICES}


def test_healthz_and_openapi(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    # The address `make run` prints opens the web client, which asks who you are first.
    assert http.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    spec = http.get("/openapi.json").json()
    assert {"/healthz", "/readyz", "/metrics"} <= set(spec["paths"])


def test_every_process_serves_metrics(http: httpx.Client, system: System) -> None:
    http.get("/readyz")
    gateway = http.get("/metrics").text
    assert 'cchc_gateway_rpc_calls_total{method="health",outcome="ok",service="notify"}' in gateway
    assert 'cchc_http_requests_total{method="GET",route="/readyz",status="200"}' in gateway
    for service in SERVICES:
        port = system.service_port(service)
        body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert f'method="health",outcome="ok",service="{service}"' in body, service
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200


async def _create_user_and_wait_for_notice(username: str) -> list[dict]:
    rpc = RpcClient(AMQP)
    await rpc.connect()
    try:
        await rpc.call(IDENTITY, "create_user",
                       {"username": username, "full_name": "Trần Thị Hoa",
                        "email": f"{username}@demo.vn", "roles": ["unit_leader"],
                        "unit_code": "X-HUONGVINH"},
                       actor=sign_actor({"username": "test", "roles": ["admin"]}))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            notices = await rpc.call(NOTIFY, "inbox", username)
            if notices:
                return notices
            await asyncio.sleep(0.2)
        return []
    finally:
        await rpc.close()


@pytest.mark.anyio
async def test_an_event_from_identity_is_handled_by_notify(system: System) -> None:
    notices = await _create_user_and_wait_for_notice("hoa.tt")
    assert len(notices) == 1
    assert [d["channel"] for d in notices[0]["deliveries"]] == ["email"]
    assert "hoa.tt" in notices[0]["body"]


def test_a_killed_service_is_named_and_recovers(http: httpx.Client, system: System) -> None:
    system.kill(NOTIFY)
    try:
        # This gateway can still serve: it stays ready, and names what is missing.
        response = http.get("/readyz")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        services = response.json()["services"]
        assert services[NOTIFY]["status"] in {"timeout", "unreachable"}
        assert all(services[s]["status"] == "ok" for s in SERVICES if s != NOTIFY)
    finally:
        system.start_service(NOTIFY)
    assert system.wait_ready(60)["services"][NOTIFY]["status"] == "ok"
