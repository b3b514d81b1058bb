"""``gridworks serve --role follower``: the PostgreSQL history and the event topics of a shard,
fed from its command log on the real broker. Killed with SIGKILL and started again, it
leaves every order, fill and record exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import urllib.request
from pathlib import Path

import asyncpg
import pytest
from redis.asyncio import Redis

from bus.commandlog import ShardLog
from bus.kafka import Deduplicator, KafkaConfig, decoder
from bus.tansu import free_port
from engine import events as ev
from engine.commands import CreateAccount, Deposit, NewOrder, SetLimits
from engine.types import Side
from store.migrate import migrate
from tests.bus.conftest import read_all
from tests.cluster.test_shard import engine, led
from tests.store.conftest import pg_dsn

__all__ = ["pg_dsn"]
pytestmark = pytest.mark.timeout(180)


def follower(tmp: Path, broker: str, dsn: str, prefix: str, port: int
             ) -> asyncio.subprocess.Process:
    env = {**os.environ, "GRIDWORKS_KAFKA_PREFIX": prefix, "GRIDWORKS_KAFKA_IDEMPOTENT": "0",
           "GRIDWORKS_KAFKA_PARTITIONS": "2", "GRIDWORKS_MAX_ACCOUNTS": "64",
           "GRIDWORKS_MAX_ORDERS": "4096"}
    return asyncio.create_subprocess_exec(  # type: ignore[return-value]
        sys.executable, "-m", "gridworks.cli", "serve", "--role", "follower", "--kafka",
        broker, "--pg", dsn, "--data", str(tmp / "follower"), "--port", str(port),
        "--node-id", "follower-0", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)


def status(port: int) -> dict:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=1) as reply:
            return json.loads(reply.read())  # type: ignore[no-any-return]
    except OSError:
        return {}


async def caught_up(port: int, seq: int) -> None:
    def done() -> bool:
        s = status(port)
        return (s.get("projector", {}).get("projected_seq") == seq
                and s.get("kafka", {}).get("published_seq") == seq)
    async with asyncio.timeout(60):
        while not await asyncio.to_thread(done):
            await asyncio.sleep(0.2)


async def test_follower_projects_and_publishes_the_log_once(
        broker: str, redis: Redis, redis_prefix: str, kafka_prefix: str, pg_dsn: str,
        tmp_path: Path) -> None:
    conn = await asyncpg.connect(pg_dsn)
    await migrate(conn)
    shard_log = ShardLog(KafkaConfig(broker, prefix=kafka_prefix, idempotent=False))
    port = free_port()
    process = None
    try:
        async with led(engine(shard_log, redis, redis_prefix, "engine-a")) as replica:
            created = await replica.submit([CreateAccount("alice"), CreateAccount("bob")])
            alice, bob = (e.account for e in ev.decode(created.events)
                          if isinstance(e, ev.AccountCreated))
            await replica.submit([Deposit(alice, 10**9), Deposit(bob, 10**9),
                                  SetLimits(alice, rate_per_s=0), SetLimits(bob, rate_per_s=0)])

            async def trade(start: int, n: int) -> None:
                for i in range(start, start + n):
                    await replica.submit([NewOrder(account=alice if i % 2 else bob, instrument=0,
                                                   side=Side.BUY if i % 2 else Side.SELL,
                                                   qty=2, price=141_000,
                                                   client_order_id=f"o{i}")])

            await trade(0, 40)
            process = await follower(tmp_path, broker, pg_dsn, kafka_prefix, port)
            await caught_up(port, replica.core.last_seq)
            process.send_signal(signal.SIGKILL)
            await process.wait()
            await trade(40, 40)
            process = await follower(tmp_path, broker, pg_dsn, kafka_prefix, port)
            await caught_up(port, replica.core.last_seq)

            seq = replica.core.last_seq
            assert await conn.fetchval("SELECT last_seq FROM trading.projection") == seq
            assert await conn.fetchval("SELECT count(*) FROM trading.orders") == 80
            assert await conn.fetchval(
                "SELECT count(DISTINCT client_order_id) FROM trading.orders") == 80
            trades = await conn.fetchval("SELECT count(*) FROM trading.fills")
            assert trades > 0
            assert trades % 2 == 0  # both sides of every trade

            records = await read_all(broker, [kafka_prefix + "orders.created"])
            dedupe = Deduplicator()
            fresh = [r for r in records if dedupe.fresh(r.topic, r.partition, r.headers)]
            decode = decoder("json")
            created_ids = [decode(r.value).client_order_id for r in fresh]  # type: ignore[union-attr]
            assert sorted(created_ids) == sorted(f"o{i}" for i in range(80))
    finally:
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 20)
            if process.returncode is None:
                process.kill()
                await process.wait()  # reaped: SIGKILL cannot be ignored
        await conn.close()
