"""Shared rate limits on the real Redis: one bucket across processes, refilled by Redis's
clock, leased a few tokens at a time; local limits while Redis is away, shared again after."""

from __future__ import annotations

import asyncio
import math
import time

from redis.asyncio import Redis

from store.ratelimit import RedisBuckets, SharedLimiter
from tests.store.conftest import REDIS
from tests.store.proxy import CuttableProxy


def client(url: str = REDIS) -> Redis:
    return Redis.from_url(url, socket_timeout=0.3, socket_connect_timeout=0.3)


async def test_a_bucket_grants_its_burst_then_refills(redis_prefix: str) -> None:
    redis = client()
    buckets = RedisBuckets(redis, redis_prefix)
    grants = [await buckets.take("k", rate=100, burst=5) for _ in range(7)]
    assert [g.granted for g in grants] == [1, 1, 1, 1, 1, 0, 0]
    assert 0 < grants[-1].retry_after_ms <= 10
    partial = await buckets.take("other", rate=100, burst=5, want=8)
    assert partial.granted == 5  # what there is, not nothing
    await asyncio.sleep(0.05)  # 100/s: about 5 tokens back
    again = await buckets.take("k", rate=100, burst=5, want=10)
    assert 3 <= again.granted <= 5
    await redis.aclose()


async def test_processes_share_one_limit(redis_prefix: str) -> None:
    """Three limiters (three gateway processes) on one key: together they get the burst,
    plus at most one lease each, not three bursts."""
    redises = [client() for _ in range(3)]
    limiters = [SharedLimiter(RedisBuckets(r, redis_prefix), "key", rate=1, burst=40, lease=4)
                for r in redises]
    admitted = 0
    for _ in range(40):
        for limiter in limiters:
            admitted += await limiter.take("gwk_x")
    assert 40 <= admitted <= 40 + 3 * 4
    alone = SharedLimiter(None, "key", rate=1, burst=40)
    assert sum([await alone.take("gwk_x") for _ in range(120)]) == 40  # per process
    for r in redises:
        await r.aclose()


async def test_what_can_be_spent_without_a_round_trip(redis_prefix: str) -> None:
    """`spendable_now` says how many `take_leased` calls answer at once: the tokens left of
    the lease, or any number while the limiter decides alone."""
    redis = client()
    limiter = SharedLimiter(RedisBuckets(redis, redis_prefix), "key", rate=1, burst=40, lease=4)
    assert limiter.spendable_now("k") == 0
    assert limiter.take_leased("k") is None  # nothing leased yet: Redis must be asked
    assert await limiter.take("k")
    assert limiter.spendable_now("k") == 3
    assert [limiter.take_leased("k") for _ in range(3)] == [True, True, True]
    assert limiter.spendable_now("k") == 0
    assert limiter.take_leased("k") is None
    alone = SharedLimiter(None, "key", rate=1, burst=2)
    assert alone.spendable_now("k") == math.inf
    assert [alone.take_leased("k") for _ in range(3)] == [True, True, False]
    await redis.aclose()


async def test_redis_away_means_local_limits_and_back_means_shared(redis_prefix: str) -> None:
    proxy = await CuttableProxy("127.0.0.1", 6379).start()
    redis = client(f"redis://127.0.0.1:{proxy.port}/0")
    limiter = SharedLimiter(RedisBuckets(redis, redis_prefix), "key", rate=1, burst=10,
                            lease=2, retry_s=0.2)
    try:
        assert await limiter.take("a")
        assert limiter.status()["shared"] is True
        proxy.cut()
        started = time.monotonic()
        answers = [await limiter.take("a") for _ in range(15)]
        assert time.monotonic() - started < 5  # a dead Redis costs a timeout, then nothing
        assert limiter.status()["degraded"] is True
        assert sum(answers) == 1 + 10  # the token still leased, then the local burst
        proxy.restore()
        await asyncio.sleep(0.25)
        assert await limiter.take("b")
        assert limiter.status()["shared"] is True
        assert limiter.failures >= 1
        held = await Redis.from_url(REDIS).hget(f"{redis_prefix}:rl:key:b", "tokens")
        assert held is not None  # the token came from Redis again
    finally:
        await redis.aclose()
        await proxy.stop()
