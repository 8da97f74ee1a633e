"""The async RPC client against the real broker, without any service running."""

import uuid

import aio_pika
import pytest

from gateway.rpc import RPC_EXCHANGE, RpcClient, RpcTimeout, ServiceUnavailable

pytestmark = pytest.mark.anyio


async def test_a_service_nobody_declared_is_unavailable_at_once(amqp_uri: str) -> None:
    client = RpcClient(amqp_uri)
    await client.connect()
    try:
        with pytest.raises(ServiceUnavailable):
            await client.call(f"ghost{uuid.uuid4().hex[:6]}", "health", timeout=5)
    finally:
        await client.close()


async def test_a_silent_service_times_out_and_its_request_expires(amqp_uri: str) -> None:
    """A queue with no consumer: the caller gives up, and the request is not left behind."""
    service = f"silent{uuid.uuid4().hex[:6]}"
    conn = await aio_pika.connect(amqp_uri)
    channel = await conn.channel()
    exchange = await channel.declare_exchange(RPC_EXCHANGE, aio_pika.ExchangeType.TOPIC,
                                              durable=True)
    queue = await channel.declare_queue(f"rpc-{service}", auto_delete=False)
    await queue.bind(exchange, routing_key=f"{service}.*")
    client = RpcClient(amqp_uri)
    await client.connect()
    try:
        with pytest.raises(RpcTimeout):
            await client.call(service, "health", timeout=0.3)
        # The broker drops an expired message when it reaches the head of the queue.
        assert await queue.get(fail=False) is None
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
