"""An asyncio client of nameko's RPC protocol, so the gateway never blocks on a call.

nameko's own ``ClusterRpcProxy`` blocks its thread; inside an ``async def`` route it
would freeze the event loop. This client speaks the same wire format instead: a
request goes to the topic exchange ``nameko-rpc`` with routing key
``<service>.<method>`` and body ``{"args": [...], "kwargs": {...}}``; the reply comes
back to our own queue, bound to the same exchange under its name, as
``{"result": ..., "error": ...}`` with the request's ``correlation_id``.

Requests expire on the broker when the caller stops waiting: nameko's request queues
are durable, and a call nobody waits for any more must not run when a service comes
back.
"""

from __future__ import annotations

import asyncio
import collections
import json
import time
import uuid
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from prometheus_client import Counter, Gauge, Histogram

from services.common.errors import DomainError

RPC_EXCHANGE = "nameko-rpc"

RPC_CALLS = Counter(
    "cchc_gateway_rpc_calls", "RPC calls from the gateway.", ["service", "method", "outcome"]
)
RPC_SECONDS = Histogram(
    "cchc_gateway_rpc_seconds", "RPC round trip seen by the gateway.", ["service", "method"]
)


class RpcError(Exception):
    """The call did not produce a result."""


class RpcTimeout(RpcError):
    pass


class ServiceUnavailable(RpcError):
    pass


class Overloaded(ServiceUnavailable):
    """This gateway already waits on as many calls to the service as it can serve."""


class RemoteError(RpcError):
    """The service raised; ``exc_type`` and ``args`` are what nameko serialised."""

    def __init__(self, exc_type: str, value: str, args: list[Any]) -> None:
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.value = value
        self.args_ = args

    @property
    def domain_error(self) -> DomainError | None:
        """The service's deliberate refusal, rebuilt with its types; None for a bug."""
        if self.exc_type != "DomainError" or not 2 <= len(self.args_) <= 4:
            return None
        try:
            return DomainError(*self.args_)
        except (TypeError, ValueError):
            return None


RPC_IN_FLIGHT = Gauge(
    "cchc_gateway_rpc_in_flight", "RPC calls from this gateway awaiting their reply.", ["service"]
)
RPC_REFUSED = Counter(
    "cchc_gateway_rpc_overloaded", "Calls refused at once: too many already in flight.",
    ["service"]
)

# How long a service's "is anyone consuming its queue" answer is trusted.
LISTENERS_TTL = 1.0


class RpcClient:
    def __init__(self, amqp_uri: str, timeout: float = 10.0, max_in_flight: int = 0,
                 admission_wait: float = 0.0) -> None:
        self.amqp_uri = amqp_uri
        self.timeout = timeout
        # Past capacity a call would only wait in the service's queue, and every call
        # behind it longer: refused instead (503 with Retry-After). 0: no bound.
        self.max_in_flight = max_in_flight
        # ...but a call that finds every place taken waits this long for one to free,
        # in line behind at most ``max_in_flight`` others, before it is refused: a
        # short burst is served in milliseconds instead of costing a second's retry,
        # and a refusal still comes within this time.
        self.admission_wait = admission_wait
        self._in_flight: dict[str, int] = {}
        self._waiting: dict[str, collections.deque[asyncio.Future[None]]] = {}
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None
        self._probe_channel: aio_pika.abc.AbstractChannel | None = None
        self._listeners: dict[str, tuple[float, int]] = {}

    async def connect(self) -> None:
        self._connection = await aio_pika.connect_robust(self.amqp_uri)
        # No publisher confirms: the reply is the confirmation of a request, and a request
        # the broker lost is a call that times out, as one the service lost would be.
        # Waiting for an ack per call cost the broker and this loop a frame each way on
        # every save. A service whose queue is missing or has no consumer is refused
        # before anything is sent (``listeners``), which ``mandatory`` did before.
        channel = await self._connection.channel(publisher_confirms=False)
        self._exchange = await channel.declare_exchange(
            RPC_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._reply_queue = await channel.declare_queue(
            f"rpc.reply-gateway-{uuid.uuid4()}", exclusive=True, auto_delete=True
        )
        await self._reply_queue.bind(self._exchange, routing_key=self._reply_queue.name)
        await self._reply_queue.consume(self._on_reply, no_ack=True)

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        for future in self._pending.values():
            future.cancel()

    @property
    def connected(self) -> bool:
        return self._connection is not None and not self._connection.is_closed

    async def listeners(self, service: str) -> int:
        """How many processes consume ``rpc-<service>`` (nameko's queue), cached briefly.

        A crashed service leaves its durable queue behind: a call would wait there for
        the whole timeout. Knowing nobody listens lets the route answer 503 at once.
        """
        now = time.monotonic()
        cached = self._listeners.get(service)
        if cached is not None and now - cached[0] < LISTENERS_TTL:
            return cached[1]
        if not self.connected:
            raise ServiceUnavailable("the broker is unreachable")
        count = 0
        try:
            if self._probe_channel is None or self._probe_channel.is_closed:
                self._probe_channel = await self._connection.channel()  # type: ignore[union-attr]
            # aiormq's own call: aio-pika's robust channel keeps the first declaration
            # of a name and would answer the first consumer count for ever.
            raw = await self._probe_channel.get_underlay_channel()
            declared = await raw.queue_declare(f"rpc-{service}", passive=True)
            count = declared.consumer_count or 0
        except aio_pika.exceptions.ChannelClosed:
            self._probe_channel = None  # no such queue: the service never started
        except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            self._probe_channel = None
            raise ServiceUnavailable(f"the broker is unreachable: {exc}") from exc
        self._listeners[service] = (now, count)
        return count

    async def call(
        self, service: str, method: str, *args: Any, timeout: float | None = None, **kwargs: Any
    ) -> Any:
        timeout = timeout or self.timeout
        if not await self._admitted(service):
            RPC_REFUSED.labels(service).inc()
            RPC_CALLS.labels(service, method, "overloaded").inc()
            raise Overloaded(f"{service}: {self.max_in_flight} calls already in flight")
        RPC_IN_FLIGHT.labels(service).inc()
        correlation_id = uuid.uuid4().hex
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[correlation_id] = future
        started = time.perf_counter()
        outcome = "ok"
        try:
            if not await self.listeners(service):
                raise ServiceUnavailable(f"{service} has no running process")
            message = aio_pika.Message(
                json.dumps({"args": args, "kwargs": kwargs}).encode(),
                content_type="application/json",
                content_encoding="utf-8",
                correlation_id=correlation_id,
                reply_to=self._reply_queue.name,
                expiration=timeout,
            )
            await self._exchange.publish(
                message, routing_key=f"{service}.{method}", mandatory=False
            )
            try:
                return await asyncio.wait_for(future, timeout)
            except TimeoutError:
                self._listeners.pop(service, None)  # it may have just crashed: look again
                raise RpcTimeout(f"{service}.{method} did not answer in {timeout}s") from None
        except RemoteError:
            outcome = "remote_error"
            raise
        except RpcError:
            outcome = "unavailable"
            raise
        finally:
            self._release(service)
            RPC_IN_FLIGHT.labels(service).dec()
            self._pending.pop(correlation_id, None)
            RPC_CALLS.labels(service, method, outcome).inc()
            RPC_SECONDS.labels(service, method).observe(time.perf_counter() - started)

    async def _admitted(self, service: str) -> bool:
        """Takes one of the service's places, waiting ``admission_wait`` at most."""
        in_flight = self._in_flight.get(service, 0)
        if not self.max_in_flight or in_flight < self.max_in_flight:
            self._in_flight[service] = in_flight + 1
            return True
        line = self._waiting.setdefault(service, collections.deque())
        if not self.admission_wait or len(line) >= self.max_in_flight:
            return False
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.append(place)
        try:
            await asyncio.wait_for(asyncio.shield(place), self.admission_wait)
        except TimeoutError:
            if place.done():  # handed over just as the wait ran out: it is ours
                return True
            line.remove(place)
            return False
        except BaseException:
            # Cancelled while waiting (the client went away): give back what was handed.
            if place.done():
                self._release(service)
            else:
                line.remove(place)
            raise
        return True

    def _release(self, service: str) -> None:
        """Hands the place to the first call still waiting for one, or frees it."""
        line = self._waiting.get(service)
        if line:
            line.popleft().set_result(None)
            return
        self._in_flight[service] -= 1

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.get(message.correlation_id or "")
        if future is None or future.done():
            return  # the caller gave up; the late answer has nobody to go to
        body = json.loads(message.body)
        error = body.get("error")
        if error:
            future.set_exception(
                RemoteError(error.get("exc_type", "Exception"), error.get("value", ""),
                            list(error.get("exc_args") or []))
            )
        else:
            future.set_result(body.get("result"))
