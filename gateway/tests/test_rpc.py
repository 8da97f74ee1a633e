"""The async RPC client against the real broker, without any service running."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from gateway.rpc import RPC_EXCHANGE, Overloaded, RpcClient, RpcTimeout, ServiceUnavailable

pytestmark = pytest.mark.anyio


async def _rpc_queue(channel: aio_pika.abc.AbstractChannel, service: str,
                     auto_delete: bool = False) -> aio_pika.abc.AbstractQueue:
    """The queue nameko declares for ``service``, bound as nameko binds it."""
    exchange = await channel.declare_exchange(RPC_EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                              durable=True)
    queue = await channel.declare_queue(f"rpc-{service}", auto_delete=auto_delete)
    await queue.bind(exchange, routing_key=f"{service}.*")
    return queue


async def _taking(conn: aio_pika.abc.AbstractConnection, service: str, prefetch: int) -> tuple[
        aio_pika.abc.AbstractChannel, aio_pika.abc.AbstractQueue, str,
        list[aio_pika.abc.AbstractIncomingMessage]]:
    """A process on ``service``'s queue that takes requests and never acks or answers."""
    channel = await conn.channel()
    await channel.set_qos(prefetch_count=prefetch)
    queue = await _rpc_queue(channel, service)
    held: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def hold(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        held.append(message)

    return channel, queue, await queue.consume(hold), held


@contextlib.asynccontextmanager
async def _holding_service(
        amqp_uri: str, prefix: str, max_in_flight: int, admission_wait: float = 0.0,
) -> AsyncIterator[tuple[str, RpcClient, list[aio_pika.abc.AbstractIncomingMessage]]]:
    """A service that takes every request and never answers, and a bounded client."""
    service = f"{prefix}{uuid.uuid4().hex[:6]}"
    conn = await aio_pika.connect(amqp_uri)
    _, queue, tag, held = await _taking(conn, service, prefetch=20)
    client = RpcClient(amqp_uri, max_in_flight=max_in_flight, admission_wait=admission_wait)
    await client.connect()
    try:
        yield service, client, held
    finally:
        await client.close()
        await queue.cancel(tag)
        await queue.delete(if_unused=False, if_empty=False)
        await conn.close()


async def test_a_service_nobody_declared_is_unavailable_at_once(amqp_uri: str) -> None:
    client = RpcClient(amqp_uri)
    await client.connect()
    try:
        with pytest.raises(ServiceUnavailable):
            await client.call(f"ghost{uuid.uuid4().hex[:6]}", "health", timeout=5)
    finally:
        await client.close()


async def test_a_silent_service_times_out_and_its_request_expires(amqp_uri: str) -> None:
    """A process that takes requests and never answers: the caller gives up, and the
    requests it left behind are not run later."""
    service = f"silent{uuid.uuid4().hex[:6]}"
    conn = await aio_pika.connect(amqp_uri)
    channel, queue, tag, _ = await _taking(conn, service, prefetch=1)
    client = RpcClient(amqp_uri)
    await client.connect()
    try:
        for _ in range(2):
            with pytest.raises(RpcTimeout):
                await client.call(service, "health", timeout=0.3)
        await queue.cancel(tag)
        await channel.close()
        channel = await conn.channel()
        queue = await channel.declare_queue(f"rpc-{service}", passive=True)
        # The broker drops expired messages when they reach the head of the queue.
        assert await queue.get(fail=False) is None
    finally:
        await client.close()
        await queue.delete(if_unused=False, if_empty=False)
        await conn.close()


async def test_a_service_with_no_process_is_unavailable_at_once(amqp_uri: str) -> None:
    """Its durable queue outlives a crashed process: nobody listens, 503 without waiting."""
    service = f"gone{uuid.uuid4().hex[:6]}"
    conn = await aio_pika.connect(amqp_uri)
    channel = await conn.channel()
    queue = await _rpc_queue(channel, service)
    client = RpcClient(amqp_uri)
    await client.connect()
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ServiceUnavailable):
            await client.call(service, "health", timeout=5)
        with pytest.raises(ServiceUnavailable):
            await client.call(f"never{service}", "health", timeout=5)
        assert asyncio.get_running_loop().time() - started < 1
        assert await queue.get(fail=False) is None  # nothing was sent to wait there
    finally:
        await client.close()
        await queue.delete(if_unused=False, if_empty=False)
        await conn.close()


async def test_replies_are_matched_to_their_callers(amqp_uri: str) -> None:
    """A minimal responder in nameko's wire format answers interleaved calls."""
    service = f"echo{uuid.uuid4().hex[:6]}"
    conn = await aio_pika.connect(amqp_uri)
    channel = await conn.channel()
    exchange = await channel.declare_exchange(RPC_EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                              durable=True)
    queue = await channel.declare_queue(f"rpc-{service}", auto_delete=True)
    await queue.bind(exchange, routing_key=f"{service}.*")

    async def respond(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        import json

        async with message.process():
            body = json.loads(message.body)
            error = None
            result = body["args"][0] * 2
            if result < 0:
                error = {"exc_type": "DomainError", "value": "neg",
                         "exc_args": ["negative", "âm / negative", 422, {}]}
            await exchange.publish(
                aio_pika.Message(json.dumps({"result": None if error else result,
                                             "error": error}).encode(),
                                 correlation_id=message.correlation_id,
                                 content_type="application/json"),
                routing_key=message.reply_to,
            )

    await queue.consume(respond)
    client = RpcClient(amqp_uri)
    await client.connect()
    try:
        import asyncio

        results = await asyncio.gather(*(client.call(service, "double", n) for n in range(20)))
        assert results == [n * 2 for n in range(20)]
        from gateway.rpc import RemoteError

        with pytest.raises(RemoteError) as err:
            await client.call(service, "double", -1)
        assert err.value.exc_type == "DomainError" and err.value.args_[0] == "negative"
    finally:
        await client.close()
        await conn.close()


async def test_past_its_bound_a_call_is_refused_at_once_and_nothing_is_sent(
        amqp_uri: str) -> None:
    """At capacity a call would only queue behind the others: Overloaded (503) in
    milliseconds, without publishing; once a call ends, the next one is taken."""
    async with _holding_service(amqp_uri, "busy", max_in_flight=2) as (service, client, held):
        waiting = [asyncio.ensure_future(client.call(service, "health", timeout=0.5))
                   for _ in range(2)]
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(Overloaded):
            await client.call(service, "health", timeout=5)
        assert loop.time() - started < 0.05
        assert isinstance(Overloaded("x"), ServiceUnavailable)  # the same 503 family
        for call in waiting:
            with pytest.raises(RpcTimeout):
                await call
        assert len(held) == 2  # the refused call never reached the service
        with pytest.raises(RpcTimeout):  # room again: sent, and held like the others
            await client.call(service, "health", timeout=0.2)
        assert len(held) == 3


async def test_past_its_bound_a_call_waits_briefly_for_a_place_then_is_refused(
        amqp_uri: str) -> None:
    """With an admission wait, a call that finds every place taken waits for one, in
    line behind at most ``max_in_flight`` others: it is sent as soon as a call ends, or
    refused when the wait runs out; a call finding the line full is refused at once."""
    async with _holding_service(amqp_uri, "line", max_in_flight=2,
                                admission_wait=0.3) as (service, client, held):
        loop = asyncio.get_running_loop()
        # Two in flight, ending (timing out) after 0.2 s.
        first = [asyncio.ensure_future(client.call(service, "health", timeout=0.2))
                 for _ in range(2)]
        await asyncio.sleep(0.05)
        # Two wait in line; they get the places the first two leave.
        started = loop.time()
        waiting = [asyncio.ensure_future(client.call(service, "health", timeout=0.5))
                   for _ in range(2)]
        await asyncio.sleep(0.01)
        with pytest.raises(Overloaded):  # the line is full: refused at once
            await client.call(service, "health", timeout=5)
        assert loop.time() - started < 0.05
        for call in first:
            with pytest.raises(RpcTimeout):
                await call
        await asyncio.sleep(0.05)
        assert len(held) == 4  # the two that waited were sent when places freed
        assert loop.time() - started < 0.3
        # Nothing frees within the wait now: refused after it, and never sent.
        started = loop.time()
        with pytest.raises(Overloaded):
            await client.call(service, "health", timeout=5)
        assert 0.25 <= loop.time() - started < 0.45
        for call in waiting:
            with pytest.raises(RpcTimeout):
                await call
        assert len(held) == 4
        assert client._in_flight[service] == 0 and not client._waiting[service]
