"""Cluster failure modes against the real services, through a TCP proxy the test can cut:
with Redis away the leader cannot renew its lease and steps down, orders wait in Kafka, and
once Redis is back a leader takes them, each applied once and answered."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from bus.commandlog import ShardLog
from bus.kafka import KafkaConfig
from engine import events as ev
from engine.commands import CreateAccount, Deposit
from tests.cluster.test_shard import cash, engine, led, wait_for
from tests.store.proxy import CuttableProxy

pytestmark = pytest.mark.timeout(120)


async def test_trading_pauses_while_redis_is_away_and_nothing_is_lost(
        broker: str, redis_prefix: str, kafka_prefix: str) -> None:
    proxy = await CuttableProxy("127.0.0.1", 6379).start()
    through = Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.3,
                             socket_connect_timeout=0.3)
    shard_log = ShardLog(KafkaConfig(broker, prefix=kafka_prefix, idempotent=False))
    leader = engine(shard_log, through, redis_prefix, "engine-a")
    try:
        async with led(leader) as replica:
            (created,) = ev.decode((await replica.submit([CreateAccount("alice")])).events)
            account = created.account  # type: ignore[attr-defined]
            first_epoch = leader.epoch

            proxy.cut()
            await wait_for(lambda: leader.role == "standby", 10)
            waiting = [replica.enqueue([Deposit(account, 100 + i)]) for i in range(5)]
            await asyncio.sleep(1.0)
            assert not any(f.done() for f in waiting)  # no one leads: nothing is answered

            proxy.restore()
            receipts = await asyncio.wait_for(asyncio.gather(*waiting), 20)
            assert leader.role == "leader"
            assert leader.epoch > first_epoch
            assert [r.last_seq - r.first_seq for r in receipts] == [0] * 5
            assert cash(replica.core, account) == sum(100 + i for i in range(5))
    finally:
        await through.aclose()
        await proxy.stop()
