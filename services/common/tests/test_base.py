"""A real container on the real broker: health over RPC, operations over HTTP, metrics."""

import socket

import eventlet
import requests
from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client import REGISTRY

from services.common.migrate import upgrade
from services.notify.service import Service


def calls(method: str, kind: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "cchc_entrypoint_calls_total",
            {"service": "notify", "method": method, "kind": kind, "outcome": "ok"},
        )
        or 0.0
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_health_answers_over_the_broker_and_is_counted(
    container_factory, rabbit_config, sqlite_url
) -> None:
    upgrade("notify", sqlite_url)
    port = free_port()
    config = {
        **rabbit_config,
        "DATABASE_URL": sqlite_url,
        "WEB_SERVER_ADDRESS": f"127.0.0.1:{port}",
    }
    container = container_factory(Service, config)
    container.start()
    before = calls("health", "rpc")
    with ServiceRpcProxy("notify", config) as proxy:
        assert proxy.health() == {"service": "notify", "status": "ok", "database": "ok"}
    # nameko sends the reply before it runs the workers' result hooks: wait for the count.
    for _ in range(100):
        if calls("health", "rpc") == before + 1:
            break
        eventlet.sleep(0.02)
    assert calls("health", "rpc") == before + 1
    assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["status"] == "ok"
    body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert (
        'cchc_entrypoint_calls_total{kind="rpc",method="health",outcome="ok",service="notify"}'
        in body
    )
