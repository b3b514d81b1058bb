"""What one shard's gateways share through Redis and Kafka stays the shard's: a session (and
so an access token) opened on shard 0 is refused by shard 1's gateways but accepted by
shard 0's others; each shard publishes its event topics under its own prefix. And the
cluster commands refuse settings that cannot work, with a clear message."""

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


@pytest.mark.parametrize(("argv", "message"), [
    (["serve", "--role", "engine"], "--role engine needs --kafka"),
    (["serve", "--role", "engine", "--kafka", "127.0.0.1:9"], "--role engine needs --redis"),
    (["serve", "--role", "gateway", "--kafka", "127.0.0.1:9", "--shard", "2", "--shards", "2"],
     "--shard 2 is not one of the 2 shards"),
    (["transfer", "--kafka", "127.0.0.1:9", "--shards", "2", "--id", "t", "--from", "0:1",
      "--to", "1:1", "--amount", "1.234"], "--amount must be a positive number of rupees"),
    (["transfer", "--kafka", "127.0.0.1:9", "--shards", "2", "--id", "t", "--from", "0:1",
      "--to", "0:2", "--amount", "1"], "between two different shards"),
    (["transfer", "--kafka", "127.0.0.1:9", "--shards", "2", "--id", "t", "--from", "0-1",
      "--to", "1:1", "--amount", "1"], "--from must be shard:account"),
])
def test_cluster_commands_refuse_bad_settings(argv: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from gridworks.cli import main

    for name in [k for k in os.environ if k.startswith("GRIDWORKS_")]:
        monkeypatch.delenv(name)
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_symbol_shards_share_the_instruments_out() -> None:
    from engine.instruments import demo_instruments
    from gridworks.cluster_roles import shard_instruments

    every = [s.symbol for s in demo_instruments()]
    owned = [[s.symbol for s in shard_instruments(NodeConfig(shard=k, shards=3))]
             for k in range(3)]
    assert sorted(s for shard in owned for s in shard) == sorted(every)  # each on one shard
    assert owned[0][0] == every[0]
    assert owned[1][0] == every[1]
    chosen = shard_instruments(NodeConfig(shard=1, shards=2, shard_symbols="infy, TCS"))
    assert [s.symbol for s in chosen] == ["TCS", "INFY"]  # in the demo set's order


def test_an_engine_refuses_symbols_there_are_not(capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from gridworks.cli import main

    monkeypatch.setenv("GRIDWORKS_SHARD_SYMBOLS", "RELIANCE,NOPE")
    assert main(["serve", "--role", "engine", "--kafka", "127.0.0.1:9", "--redis",
                 "redis://127.0.0.1:9/0"]) == 2
    assert "no instrument NOPE" in capsys.readouterr().err
