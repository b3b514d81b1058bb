"""Two gateway processes (two gateways on one node here) sharing one API key's message limit
through Redis: together they admit one bucket's worth, where local limits would admit two."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from gateway.client import Client
from gateway.limits import KeyLimiter, Limits
from gateway.server import Gateway, GatewayConfig
from store.ratelimit import RedisBuckets, SharedLimiter
from tests.gateway.conftest import Exchange
from tests.store.conftest import REDIS

RATE = 5.0  # per key; bursts of 10
LIMITS = Limits(messages_per_s=1_000, key_messages_per_s=RATE, heartbeat_s=0.5)


@pytest.fixture
def limits() -> Limits:
    return LIMITS


async def gateways(exchange: Exchange, make: list[KeyLimiter]) -> AsyncIterator[list[Gateway]]:
    started = []
    for limiter in make:
        gw = Gateway(exchange.node, exchange.node.kek,
                     GatewayConfig(port=0, limits=LIMITS, key_limiter=limiter))
        await gw.start()
        started.append(gw)
    try:
        yield started
    finally:
        for gw in started:
            await gw.stop(reconnect_after_ms=10)


async def admitted(gws: list[Gateway], exchange: Exchange, each: int) -> int:
    clients = []
    for gw in gws:
        client = await Client.connect(f"ws://127.0.0.1:{gw.port}/")
        await client.login(exchange.alice.key_id, exchange.alice.secret)
        clients.append(client)
    total = 0
    try:
        for n, client in enumerate(clients):
            replies = await client.call_batch([{"id": f"{n}-{i}", "op": "ping"}
                                               for i in range(each)])
            total += sum(1 for r in replies if r["ok"])
    finally:
        for client in clients:
            await client.close()
    return total


async def test_a_key_limit_holds_across_gateways(exchange: Exchange, redis_prefix: str) -> None:
    redises = [Redis.from_url(REDIS) for _ in range(2)]
    shared: list[KeyLimiter] = [SharedLimiter(RedisBuckets(r, redis_prefix), "ws-key", RATE,
                                              2 * RATE, lease=1) for r in redises]
    try:
        async for gws in gateways(exchange, shared):
            # 30 pings through each gateway: one bucket (10) plus a lease per gateway at most
            assert await admitted(gws, exchange, 30) <= 2 * RATE + 2
            assert all(gw.stats()["key_limits"]["shared"] for gw in gws)
    finally:
        for r in redises:
            await r.aclose()


async def test_without_redis_each_gateway_limits_alone(exchange: Exchange) -> None:
    from gateway.limits import LocalKeyLimiter

    local: list[KeyLimiter] = [LocalKeyLimiter(RATE, 2 * RATE) for _ in range(2)]
    async for gws in gateways(exchange, local):
        assert await admitted(gws, exchange, 30) >= 2 * (2 * RATE) - 2
