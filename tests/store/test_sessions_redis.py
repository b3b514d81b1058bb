"""Users' sessions in the real Redis, shared by two gateway processes (two issuers with the
same key-encryption key): a login on one is valid on the other, a refresh on one makes the old
token a reuse on the other, a logout on one ends the session everywhere."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from accounts.users import user_grant
from gateway.errors import ApiError
from gateway.sessions import TokenIssuer
from store.sessions import RedisSessions
from tests.store.conftest import REDIS

KEK = bytes(range(32))


async def test_sessions_are_shared_between_processes(redis_prefix: str) -> None:
    redises = [Redis.from_url(REDIS) for _ in range(2)]
    one, two = (TokenIssuer(KEK, RedisSessions(r, redis_prefix)) for r in redises)
    user = user_grant("asha", 1, "trader", "correct horse battery")
    try:
        first = await one.open(user)
        assert (await two.verify(first.access_token)).username == "asha"
        second = await two.refresh(first.refresh_token, lambda name: user)
        with pytest.raises(ApiError) as reused:
            await one.refresh(first.refresh_token, lambda name: user)
        assert reused.value.code.name == "REFRESH_REUSED"
        with pytest.raises(ApiError) as gone:
            await one.verify(second.access_token)
        assert gone.value.code.name == "TOKEN_INVALID"

        third = await one.open(user)
        both = await asyncio.gather(
            one.refresh(third.refresh_token, lambda name: user),
            two.refresh(third.refresh_token, lambda name: user), return_exceptions=True)
        losers = [r for r in both if isinstance(r, ApiError)]
        assert [r.code.name for r in losers] == ["REFRESH_REUSED"]  # only one refresh wins...
        winner = next(r for r in both if not isinstance(r, BaseException))
        with pytest.raises(ApiError):  # ...and a second use of a token ends the session
            await one.verify(winner.access_token)

        fourth = await one.open(user)
        await two.end((await two.verify(fourth.access_token)).sid)  # logout on the other
        with pytest.raises(ApiError):
            await one.verify(fourth.access_token)
        held = [k async for k in redises[0].scan_iter(f"{redis_prefix}:sess:*")]
        assert all([await redises[0].ttl(k) > 0 for k in held])  # nothing kept for ever
    finally:
        for r in redises:
            await r.aclose()


async def test_with_redis_away_tokens_are_refused_clearly_then_work_again(
        redis_prefix: str) -> None:
    from tests.store.proxy import CuttableProxy

    proxy = await CuttableProxy("127.0.0.1", 6379).start()
    redis = Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.3,
                           socket_connect_timeout=0.3)
    issuer = TokenIssuer(KEK, RedisSessions(redis, redis_prefix))
    user = user_grant("asha", 1, "trader", "correct horse battery")
    try:
        tokens = await issuer.open(user)
        proxy.cut()
        with pytest.raises(ApiError) as away:
            await issuer.verify(tokens.access_token)  # a revocation might be missed: refuse
        assert away.value.code.name == "SESSIONS_UNAVAILABLE"
        with pytest.raises(ApiError):
            await issuer.open(user)
        proxy.restore()
        assert (await issuer.verify(tokens.access_token)).username == "asha"
    finally:
        await redis.aclose()
        await proxy.stop()
