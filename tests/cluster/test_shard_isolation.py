"""What one shard's gateways share through Redis and Kafka stays the shard's: a session (and
so an access token) opened on shard 0 is refused by shard 1's gateways but accepted by
shard 0's others; each shard publishes its event topics under its own prefix."""

from __future__ import annotations

import os

import pytest
from redis.asyncio import Redis

from engine.commands import UserGrant
from gateway.errors import ApiError, GatewayCode
from gateway.sessions import TokenIssuer
from gridworks.cluster_roles import shard_events, shard_redis
from gridworks.config import NodeConfig
from store.sessions import RedisSessions

KEK = os.urandom(32)  # shared by the whole cluster


def issuer(redis: Redis, prefix: str, shard: int) -> TokenIssuer:
    config = shard_redis(NodeConfig(redis_prefix=prefix, shard=shard, shards=2))
    return TokenIssuer(KEK, RedisSessions(redis, config.redis_prefix))


async def test_a_token_of_one_shard_means_nothing_on_another(redis: Redis,
                                                             redis_prefix: str) -> None:
    user = UserGrant("asha", 2, "trader", "$argon2id$not-checked-here")
    tokens = await issuer(redis, redis_prefix, 0).open(user)
    claims = await issuer(redis, redis_prefix, 0).verify(tokens.access_token)  # another gw
    assert (claims.username, claims.account) == ("asha", 2)
    with pytest.raises(ApiError) as refused:
        await issuer(redis, redis_prefix, 1).verify(tokens.access_token)
    assert refused.value.code == GatewayCode.TOKEN_INVALID


def test_each_shard_has_its_own_event_topics() -> None:
    one = NodeConfig(kafka_prefix="prod.", shard=0, shards=1)
    assert shard_events(one).kafka_prefix == "prod."  # a one-shard cluster: as a node
    prefixes = {shard_events(NodeConfig(kafka_prefix="prod.", shard=k, shards=3)).kafka_prefix
                for k in range(3)}
    assert prefixes == {"prod.shard0.", "prod.shard1.", "prod.shard2."}
