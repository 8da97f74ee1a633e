"""Event handlers that retry a failing event a bounded number of times, then park it.

nameko's ``event_handler`` either drops an event whose handler raised (the default) or,
with ``requeue_on_error=True``, puts it straight back: a poison message then loops
forever and starves the queue. ``retrying_event_handler`` gives each handler queue a
dead-letter exchange instead, so RabbitMQ itself carries the retries:

    <source>.events ──▶ Q ──reject──▶ cchc.retry ──▶ Q.wait (TTL = retry_delay)
                        ▲                                  │ expires
                        └──────── default exchange ◀───────┘
    after ``attempts`` failures:  Q ──publish──▶ cchc.retry ──▶ Q.dead (kept, for a person)

The broker counts the rounds in the message's ``x-death`` header (entry for queue Q,
reason ``rejected``), so the count survives restarts of the service. Only the last
step is published by us: a dead-letter exchange routes every rejection the same way,
so the final move cannot be a rejection too. The parked copy is confirmed by the
broker before the original is acked; if that publish fails the event is requeued,
never lost.

The queue is named ``cchc-evt-<source>-<event>--<service>.<method>``, not nameko's
``evt-…`` name: RabbitMQ refuses to redeclare an existing queue with other arguments
(PRECONDITION_FAILED), and brokers that ran the plain handler still hold that queue.
That old queue stays bound and would collect a copy of every event for nobody, so it is
deleted at start when the broker confirms it is empty and unused; otherwise a warning
names it, for an operator to move its events over and delete it.
"""

from __future__ import annotations

import logging
from typing import Any

import kombu.exceptions
from amqp.exceptions import PreconditionFailed
from kombu import Exchange, Queue
from nameko.amqp.publish import get_connection, get_producer
from nameko.constants import AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.events import SERVICE_POOL, EventHandler
from prometheus_client import Counter

log = logging.getLogger(__name__)

RETRY_EXCHANGE = Exchange("cchc.retry", type="direct", durable=True)

EVENTS_RETRIED = Counter(
    "cchc_events_retried",
    "Events whose handler raised and that were sent to wait for another attempt.",
    ["service", "method"],
)
EVENTS_DEAD_LETTERED = Counter(
    "cchc_events_dead_lettered",
    "Events parked in a dead-letter queue after their last attempt failed.",
    ["service", "method"],
)


def attempts_so_far(headers: dict[str, Any] | None, queue: str) -> int:
    """How many times this message was already rejected from ``queue`` (RabbitMQ's count)."""
    for death in (headers or {}).get("x-death") or ():
        if death.get("queue") == queue and death.get("reason") == "rejected":
            return int(death.get("count", 0))
    return 0


class RetryingEventHandler(EventHandler):
    """An event handler with bounded, delayed retries and a dead-letter queue.

    ``attempts`` counts every run, the first included; ``retry_delay`` is the wait in
    seconds between two runs.
    """

    def __init__(
        self, source_service: str, event_type: str, attempts: int = 5,
        retry_delay: float = 5.0, **kwargs: Any,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        if kwargs.get("handler_type", SERVICE_POOL) is not SERVICE_POOL:
            # Broadcast and singleton queues are per instance or shared across
            # services; a per-handler retry loop only makes sense for a service pool.
            raise ValueError("retrying_event_handler supports SERVICE_POOL handlers only")
        kwargs.pop("requeue_on_error", None)
        super().__init__(source_service, event_type, requeue_on_error=False, **kwargs)
        self.attempts = attempts
        self.retry_delay = retry_delay

    @property
    def queue_name(self) -> str:
        return (
            f"cchc-evt-{self.source_service}-{self.event_type}"
            f"--{self.container.service_name}.{self.method_name}"
        )

    def setup(self) -> None:
        super().setup()  # registers with the queue consumer, which reads self.queue at start
        plain_name = self.queue.name
        name = self.queue_name
        self.wait_queue = Queue(
            f"{name}.wait", exchange=RETRY_EXCHANGE, routing_key=f"{name}.wait", durable=True,
            queue_arguments={
                "x-message-ttl": max(1, int(self.retry_delay * 1000)),
                # The default exchange routes by queue name: back to this handler only,
                # not to every other subscriber of the event.
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": name,
            },
        )
        self.dead_queue = Queue(
            f"{name}.dead", exchange=RETRY_EXCHANGE, routing_key=f"{name}.dead", durable=True
        )
        self.queue = Queue(
            name, exchange=self.queue.exchange, routing_key=self.event_type, durable=True,
            queue_arguments={
                "x-dead-letter-exchange": RETRY_EXCHANGE.name,
                "x-dead-letter-routing-key": f"{name}.wait",
            },
        )
        config = self.container.config
        self._amqp = {
            "amqp_uri": config[AMQP_URI_CONFIG_KEY],
            "ssl": config.get(AMQP_SSL_CONFIG_KEY),
            "login_method": config.get(LOGIN_METHOD_CONFIG_KEY),
        }
        with get_connection(**self._amqp) as connection:
            # Declared before the first rejection, or the broker would drop it silently.
            channel = connection.channel()
            try:
                self.wait_queue(channel).declare()
                self.dead_queue(channel).declare()
            finally:
                channel.close()
            self._retire_plain_queue(connection, plain_name)

    def _retire_plain_queue(self, connection: Any, plain_name: str) -> None:
        channel = connection.channel()
        try:
            # The broker checks both conditions atomically; a missing queue is a no-op.
            channel.queue_delete(plain_name, if_unused=True, if_empty=True)
        except PreconditionFailed:
            log.warning(
                "queue %s of the plain event handler still holds events or a consumer; "
                "move its events to %s and delete it", plain_name, self.queue.name,
            )
        finally:
            if channel.is_open:
                channel.close()

    def handle_message_processed(
        self, message: Any, result: Any = None, exc_info: Any = None
    ) -> None:
        # A broker that went away mid-ack would kill the whole container (and nameko does
        # not start it again): the message, not acked on the dead channel, comes back
        # after the reconnection and claim_event makes its second run a no-op.
        try:
            self._settle(message, exc_info)
        except (ConnectionError, OSError, kombu.exceptions.OperationalError) as exc:
            log.warning("%s not settled, the broker is unreachable (%s); it will be "
                        "delivered again", self.event_type, exc)

    def _settle(self, message: Any, exc_info: Any) -> None:
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        labels = (self.container.service_name, self.method_name)
        attempt = attempts_so_far(message.headers, self.queue.name) + 1
        if attempt < self.attempts:
            EVENTS_RETRIED.labels(*labels).inc()
            self._reject(message)
            return
        try:
            self._park(message, attempt, exc_info)
        except Exception:
            log.exception("could not park %s in %s; requeued", self.event_type, self.dead_queue)
            self.queue_consumer.requeue_message(message)
            return
        EVENTS_DEAD_LETTERED.labels(*labels).inc()
        log.error(
            "%s.%s failed %d times on %s; parked in %s",
            *labels, attempt, self.event_type, self.dead_queue.name,
        )
        self.queue_consumer.ack_message(message)

    def _reject(self, message: Any) -> None:
        # Same guard as nameko's ack: on a dead connection the broker already took it back.
        if message.channel.connection:
            try:
                message.reject(requeue=False)
            except ConnectionError:
                pass

    def _park(self, message: Any, attempt: int, exc_info: Any) -> None:
        headers = dict(message.headers or {})
        headers["x-cchc-attempts"] = attempt
        headers["x-cchc-error"] = repr(exc_info[1])[:1000]
        with get_producer(confirms=True, **self._amqp) as producer:
            producer.publish(
                message.body,
                exchange=RETRY_EXCHANGE,
                routing_key=self.dead_queue.name,
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                declare=[self.dead_queue],
                retry=True,
            )


retrying_event_handler = RetryingEventHandler.decorator
