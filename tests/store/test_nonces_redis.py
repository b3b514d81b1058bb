"""Signature nonces in the real Redis, shared by two gateway processes: a nonce claimed by
one is refused by the other, nonces expire with the signature window, and with Redis away
each process falls back to its own memory and shares again when Redis is back."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from gateway.auth import Authenticator
from gateway.errors import ApiError
from store.nonces import RedisNonces
from tests.store.conftest import REDIS
from tests.store.proxy import CuttableProxy


async def test_a_nonce_is_used_once_across_processes(redis_prefix: str) -> None:
    redises = [Redis.from_url(REDIS) for _ in range(2)]
    one, two = (Authenticator(dict, b"k" * 32, 5_000, shared=RedisNonces(r, redis_prefix))
                for r in redises)
    try:
        await one.claim("key-a", "nonce-0001")
        with pytest.raises(ApiError) as replayed:
            await two.claim("key-a", "nonce-0001")
        assert replayed.value.code.name == "REPLAYED_NONCE"
        await two.claim("key-b", "nonce-0001")  # nonces are per key
        (held,) = [k async for k in redises[0].scan_iter(f"{redis_prefix}:nonce:key-a:*")]
        assert 0 < await redises[0].pttl(held) <= 10_000  # two windows, then forgotten
        await Authenticator(dict, b"k" * 32, 5_000).claim("key-a", "nonce-0001")  # no ledger
    finally:
        for r in redises:
            await r.aclose()


async def test_with_redis_away_each_process_checks_alone_then_shares_again(
        redis_prefix: str) -> None:
    proxy = await CuttableProxy("127.0.0.1", 6379).start()
    redis = Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.3,
                           socket_connect_timeout=0.3)
    nonces = RedisNonces(redis, redis_prefix)
    other = Redis.from_url(REDIS)
    try:
        assert await nonces.claim("key-a", "nonce-0001", 5_000)
        proxy.cut()
        assert await nonces.claim("key-a", "nonce-0002", 5_000)  # accepted, degraded
        assert nonces.degraded
        proxy.restore()
        assert not await nonces.claim("key-a", "nonce-0001", 5_000)
        assert not nonces.degraded
        assert not await RedisNonces(other, redis_prefix).claim("key-a", "nonce-0001", 5_000)
    finally:
        await redis.aclose()
        await other.aclose()
        await proxy.stop()
