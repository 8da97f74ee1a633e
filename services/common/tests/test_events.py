"""Bounded retries and the dead-letter queue, against the real broker."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import amqp
import pytest
from kombu import Connection
from nameko.events import BROADCAST, SERVICE_POOL
from nameko.standalone.events import event_dispatcher

from services.common.events import (
    EVENTS_DEAD_LETTERED,
    RetryingEventHandler,
    attempts_so_far,
    retrying_event_handler,
)

ATTEMPTS = 3
calls: Counter[str] = Counter()


def make_service(name: str, source: str) -> type:
    """A throwaway service: a handler that always fails, one that fails only once, and a
    second subscriber of the same event as the latter that always succeeds."""

    def always_fails(self: Any, payload: dict) -> None:
        calls[f"always:{payload['n']}"] += 1
        raise RuntimeError("poison")

    def fails_once(self: Any, payload: dict) -> None:
        key = f"once:{payload['n']}"
        calls[key] += 1
        if calls[key] == 1:
            raise RuntimeError("database hiccup")
        calls[f"done:{payload['n']}"] += 1

    def also_hears_flaky(self: Any, payload: dict) -> None:
        calls[f"other:{payload['n']}"] += 1

    return type(name, (), {
        "name": name,
        "always_fails": retrying_event_handler(
            source, "poison", attempts=ATTEMPTS, retry_delay=0.05)(always_fails),
        "fails_once": retrying_event_handler(
            source, "flaky", attempts=ATTEMPTS, retry_delay=0.05)(fails_once),
        "also_hears_flaky": retrying_event_handler(source, "flaky")(also_hears_flaky),
    })


def wait_for(predicate: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met in {seconds}s: {dict(calls)}")


def delete_queues(amqp_uri: str, service: str, source: str, *extra: str) -> None:
    """The test service's queues are durable: remove them, the broker is shared."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for method, event in (
            ("always_fails", "poison"), ("fails_once", "flaky"), ("also_hears_flaky", "flaky")
        ):
            base = f"cchc-evt-{source}-{event}--{service}.{method}"
            for name in (base, f"{base}.wait", f"{base}.dead", *extra):
                channel.queue_delete(name)
        channel.close()


@pytest.fixture
def running(container_factory, rabbit_config) -> Iterator[tuple[str, str, dict]]:
    suffix = uuid.uuid4().hex[:8]
    service, source = f"dlxtest_{suffix}", f"dlxsrc_{suffix}"
    container = container_factory(make_service(service, source), rabbit_config)
    container.start()
    yield service, source, rabbit_config
    container.stop()
    delete_queues(rabbit_config["AMQP_URI"], service, source)


def queue_depth(amqp_uri: str, name: str) -> int:
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        _, depth, _ = channel.queue_declare(name, passive=True)
        channel.close()
        return depth


def test_poison_event_ends_in_dead_letter_queue_after_bounded_attempts(running) -> None:
    service, source, config = running
    dead = f"cchc-evt-{source}-poison--{service}.always_fails.dead"
    before = EVENTS_DEAD_LETTERED.labels(service, "always_fails")._value.get()
    event_dispatcher(config)(source, "poison", {"n": 1, "text": "Thông báo"})

    wait_for(lambda: queue_depth(config["AMQP_URI"], dead) == 1)
    time.sleep(0.5)  # a further retry, if there were one, would have happened by now
    assert calls["always:1"] == ATTEMPTS

    with Connection(config["AMQP_URI"]) as conn:
        message = conn.SimpleQueue(dead).get(timeout=5)
        message.ack()
    assert message.payload == {"n": 1, "text": "Thông báo"}
    assert message.headers["x-cchc-attempts"] == ATTEMPTS
    assert "poison" in message.headers["x-cchc-error"]
    assert EVENTS_DEAD_LETTERED.labels(service, "always_fails")._value.get() == before + 1
    base = f"cchc-evt-{source}-poison--{service}.always_fails"
    assert queue_depth(config["AMQP_URI"], base) == 0
    assert queue_depth(config["AMQP_URI"], f"{base}.wait") == 0


def test_event_that_fails_once_is_processed_once(running) -> None:
    service, source, config = running
    event_dispatcher(config)(source, "flaky", {"n": 2})

    wait_for(lambda: calls["done:2"] == 1)
    time.sleep(0.5)
    assert calls["once:2"] == 2
    assert calls["done:2"] == 1
    dead = f"cchc-evt-{source}-flaky--{service}.fails_once.dead"
    assert queue_depth(config["AMQP_URI"], dead) == 0
    # The retry went back to the failing handler's queue only, not to every subscriber.
    assert calls["other:2"] == 1


def test_attempts_are_read_from_the_brokers_count() -> None:
    headers = {"x-death": [
        {"queue": "q.wait", "reason": "expired", "count": 4},
        {"queue": "q", "reason": "rejected", "count": 2},
    ]}
    assert attempts_so_far(headers, "q") == 2
    assert attempts_so_far(headers, "other") == 0
    assert attempts_so_far(None, "q") == 0


def test_only_service_pool_handlers_and_positive_attempts() -> None:
    with pytest.raises(ValueError):
        RetryingEventHandler("a", "b", attempts=0)
    with pytest.raises(ValueError):
        RetryingEventHandler("a", "b", handler_type=BROADCAST)
    assert RetryingEventHandler("a", "b", handler_type=SERVICE_POOL).attempts == 5


def test_the_plain_handlers_queue_is_retired_only_when_empty(
    container_factory, rabbit_config, caplog
) -> None:
    suffix = uuid.uuid4().hex[:8]
    service, source = f"dlxtest_{suffix}", f"dlxsrc_{suffix}"
    empty = f"evt-{source}-flaky--{service}.fails_once"
    holding = f"evt-{source}-poison--{service}.always_fails"
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        channel = conn.channel()
        for name in (empty, holding):
            channel.queue_declare(name, durable=True, auto_delete=False)
        channel.basic_publish(amqp.Message(b'{"n": 0}'), exchange="", routing_key=holding)
        channel.close()
    container = container_factory(make_service(service, source), rabbit_config)
    try:
        container.start()
        with pytest.raises(amqp.exceptions.NotFound):
            queue_depth(uri, empty)
        assert queue_depth(uri, holding) == 1
        assert f"queue {holding} of the plain event handler still holds events" in caplog.text
    finally:
        container.stop()
        delete_queues(uri, service, source, holding)
