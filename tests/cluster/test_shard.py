"""A shard's engines and a gateway replica in one process, on the real broker and Redis:
commands sent as requests come back as receipts from the log; every replica holds the same
state; the standby takes over when the leader stops renewing its lease, applying everything
the old leader acknowledged and none of what it wrote after the new leader's fence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bus.commandlog import ShardLog, decode_entry, entry_record
from bus.kafka import KafkaConfig
from engine import events as ev
from engine.commandlog import EntryKind, EntryMeta
from engine.commands import Command, CommandBatch, CreateAccount, Deposit, NewOrder, SetLimits
from engine.core import Core, CoreConfig
from engine.instruments import demo_instruments
from engine.types import Side
from gridworks.node import bootstrap_commands
from gridworks.replica import Replica
from gridworks.requests import RequestSender
from gridworks.shard import ShardEngine, ShardSettings
from portfolio.views import account_view
from tests.bus.conftest import read_all

pytestmark = pytest.mark.timeout(120)
CONFIG = CoreConfig(max_orders=4096, max_accounts=64, initial_levels=4096, max_positions=4096)


def bootstrap() -> list[Command]:
    return bootstrap_commands(open_market=True)


def engine(shard_log: ShardLog, redis: Redis, prefix: str, name: str) -> ShardEngine:
    return ShardEngine(shard_log, CONFIG, redis, prefix,
                       ShardSettings(node_id=name, lease_ms=600, mark_interval_ms=-1),
                       bootstrap)


def cash(core: Core | None, account: int) -> int:
    """An account's cash as a core holds it, in paise."""
    assert core is not None
    assert core.risk is not None
    return account_view(core.risk.account_state(account)).cash


async def gateway(shard_log: ShardLog, name: str) -> tuple[Replica, RequestSender]:
    replica = Replica(shard_log, CONFIG, client_id=name)
    await replica.start()
    sender = RequestSender(replica)
    await sender.start()
    return replica, sender


async def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def led(leader: ShardEngine, name: str = "gw-1") -> AsyncIterator[Replica]:
    """``leader`` leading its shard, and a gateway's replica that sends requests, once the
    market is set up; everything stopped afterwards."""
    await leader.start()
    leading = asyncio.create_task(leader.run())
    replica, sender = await gateway(leader.log, name)
    try:
        await asyncio.wait_for(leader.leading.wait(), 20)
        await wait_for(lambda: bool(replica.core.specs))
        yield replica
    finally:
        leading.cancel()
        await asyncio.gather(leading, return_exceptions=True)
        for part in (sender, replica, leader):
            with contextlib.suppress(Exception):
                await part.stop()


async def test_requests_come_back_as_receipts_and_the_standby_takes_over(
        broker: str, redis: Redis, redis_prefix: str, kafka_prefix: str) -> None:
    shard_log = ShardLog(KafkaConfig(broker, prefix=kafka_prefix, idempotent=False))
    first, second = (engine(shard_log, redis, redis_prefix, n) for n in ("engine-a", "engine-b"))
    await first.start()
    leading = asyncio.create_task(first.run())
    await asyncio.wait_for(first.leading.wait(), 20)
    await second.start()
    standing_by = asyncio.create_task(second.run())
    replica, sender = await gateway(shard_log, "gw-1")
    try:
        await wait_for(lambda: replica.core.last_seq >= len(bootstrap()))
        assert [s.symbol for s in replica.core.specs] == [s.symbol for s in demo_instruments()]

        created = await replica.submit([CreateAccount("alice"), CreateAccount("bob")])
        alice, bob = (e.account for e in ev.decode(created.events)
                      if isinstance(e, ev.AccountCreated))
        await replica.submit([Deposit(alice, 10_00_000_00), Deposit(bob, 10_00_000_00),
                              SetLimits(alice, rate_per_s=0), SetLimits(bob, rate_per_s=0)])
        acked: list[int] = []
        for i in range(20):
            receipt = await replica.submit([NewOrder(
                account=alice if i % 2 else bob, instrument=0,
                side=Side.BUY if i % 2 else Side.SELL, qty=1, price=141_000,
                client_order_id=f"o{i}")])
            acked.append(receipt.first_seq)
        await wait_for(lambda: second.replica.core.last_seq == replica.core.last_seq
                       == first.replica.core.last_seq)
        assert second.replica.core.state_hash() == replica.core.state_hash()
        assert first.replica.core.state_hash() == replica.core.state_hash()
        assert second.role == "standby"

        # The leader dies without a word: its tasks stop, its lease runs out.
        leading.cancel()
        await asyncio.gather(leading, return_exceptions=True)
        stale_epoch = first.epoch
        await asyncio.wait_for(second.leading.wait(), 10)
        assert second.epoch > stale_epoch

        # A deposed leader that still writes changes nothing anywhere.
        zombie = shard_log.producer()
        await zombie.start()
        value, headers = entry_record(
            EntryMeta(EntryKind.COMMANDS, stale_epoch, 0, "engine-a"),
            CommandBatch.of([Deposit(alice, 1)]))
        await zombie.send_and_wait(shard_log.commands.topic, value, partition=0,
                                   headers=headers)
        await zombie.stop()

        for i in range(20, 30):
            receipt = await replica.submit([NewOrder(
                account=alice if i % 2 else bob, instrument=0,
                side=Side.BUY if i % 2 else Side.SELL, qty=1, price=141_000,
                client_order_id=f"o{i}")])
            acked.append(receipt.first_seq)
        await wait_for(lambda: second.replica.core.last_seq == replica.core.last_seq)
        assert replica.applier.skipped >= 1
        assert second.replica.core.state_hash() == replica.core.state_hash()
        # Every acknowledged order is in the core: its client order id is known.
        for i in range(30):
            account = alice if i % 2 else bob
            assert (account, f"o{i}") in replica.core.client_ids
        assert len(set(acked)) == 30
    finally:
        for task in (leading, standing_by):
            task.cancel()
        await asyncio.gather(leading, standing_by, return_exceptions=True)
        with contextlib.suppress(Exception):
            await sender.stop()
        for part in (replica, second, first):
            with contextlib.suppress(Exception):
                await part.stop()


async def test_a_replica_starts_again_from_its_snapshot(
        broker: str, redis: Redis, redis_prefix: str, kafka_prefix: str,
        tmp_path: Path) -> None:
    shard_log = ShardLog(KafkaConfig(broker, prefix=kafka_prefix, idempotent=False))
    replicas: list[Replica] = []
    async with led(engine(shard_log, redis, redis_prefix, "engine-a")) as replica:
        try:
            (created,) = ev.decode((await replica.submit([CreateAccount("alice")])).events)
            account = created.account  # type: ignore[attr-defined]
            for i in range(30):
                await replica.submit([Deposit(account, 1_000 + i)])
            snapshotting = Replica(shard_log, CONFIG, client_id="s1", snapshots=tmp_path,
                                   snapshot_every=10)
            replicas.append(snapshotting)
            await snapshotting.start()  # the catch-up reads in chunks: snapshots on the way
            for i in range(12):
                await replica.submit([Deposit(account, 5_000 + i)])
            await wait_for(lambda: snapshotting.core.last_seq == replica.core.last_seq)
            assert snapshotting.last_snapshot_seq > 0
            await snapshotting.stop()

            again = Replica(shard_log, CONFIG, client_id="s2", snapshots=tmp_path)
            replicas.append(again)
            await again.start()
            assert again.stats.entries < replica.stats.entries  # it skipped what it had
            await replica.submit([Deposit(account, 7)])
            await wait_for(lambda: again.core.last_seq == replica.core.last_seq)
            assert again.core.state_hash() == replica.core.state_hash()
            assert again.applier.state() == replica.applier.state()
        finally:
            for part in replicas:
                with contextlib.suppress(Exception):
                    await part.stop()


async def test_entries_stay_within_their_size(broker: str, redis: Redis, redis_prefix: str,
                                              kafka_prefix: str) -> None:
    shard_log = ShardLog(KafkaConfig(broker, prefix=kafka_prefix, idempotent=False))
    small = ShardEngine(shard_log, CONFIG, redis, redis_prefix,
                        ShardSettings(node_id="small", mark_interval_ms=-1, max_entry=3,
                                      request_wait_ms=50), bootstrap)
    async with led(small) as replica:
        (created,) = ev.decode((await replica.submit([CreateAccount("alice")])).events)
        account = created.account  # type: ignore[attr-defined]
        pending = [replica.enqueue([Deposit(account, 1)]) for _ in range(7)]
        pending.append(replica.enqueue([Deposit(account, 10)] * 5))  # larger than an entry
        pending += [replica.enqueue([Deposit(account, 100)]) for _ in range(2)]
        receipts = await asyncio.gather(*pending)
        assert [r.last_seq - r.first_seq + 1 for r in receipts] == [1] * 7 + [5, 1, 1]
        assert [r.first_seq for r in receipts] == sorted(r.first_seq for r in receipts)
        records = await read_all(broker, [shard_log.commands.topic], idle_s=0.5)
        sizes = [len(e.batch) for e in (decode_entry(r.offset, r.value, r.headers)
                                        for r in records) if e.batch is not None]
        assert max(sizes) == len(bootstrap())  # the leader's own bootstrap, in one entry
        later = sizes[1:]
        assert 5 in later
        assert all(n <= 3 for n in later if n != 5)
        assert cash(replica.core, account) == 7 + 50 + 200
