"""Cross-shard transfers on the real broker and Redis: two shards, an account with funds on
each. A transfer to a shard that is down waits in transit and completes when the shard is
back — even after the desk running it restarts and sends the credit again; a transfer whose
credit is refused is refunded; a transfer asked for twice moves money once; and at every
moment the shards' cash plus what is in transit is what it was."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys

import pytest
from redis.asyncio import Redis

from accounts.transfers import Status, Transfer, parse_requester
from bus.commandlog import ShardLog
from bus.kafka import KafkaConfig
from engine import events as ev
from engine.commands import CreateAccount, Deposit
from engine.core import Core
from gridworks.replica import Replica
from gridworks.requests import RequestSender
from gridworks.transfers import TransferConflictError, TransferDesk
from tests.cluster.test_shard import CONFIG, cash, engine, wait_for

pytestmark = pytest.mark.timeout(120)
FUNDS = 50_000_00


class Shard:
    """A shard's engine, run and stopped at will, and a replica to set accounts up."""

    def __init__(self, shard_log: ShardLog, redis: Redis, prefix: str, name: str) -> None:
        self.log, self.redis, self.prefix, self.name = shard_log, redis, prefix, name
        self.runs = 0
        self.task: asyncio.Task[None] | None = None

    async def up(self) -> None:
        self.runs += 1
        self.engine = engine(self.log, self.redis, self.prefix, f"{self.name}-{self.runs}")
        await self.engine.start()
        self.task = asyncio.create_task(self.engine.run())
        await asyncio.wait_for(self.engine.leading.wait(), 20)

    async def down(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.engine.stop()  # gives the lease up: the next run leads at once

    @property
    def core(self) -> Core:
        assert self.engine.replica.core is not None
        return self.engine.replica.core


async def open_account(shard_log: ShardLog, name: str, funds: int) -> int:
    replica = Replica(shard_log, CONFIG, client_id=f"setup-{shard_log.shard}")
    await replica.start()
    sender = RequestSender(replica)
    await sender.start()
    try:
        await wait_for(lambda: bool(replica.core.specs))
        created = await replica.submit([CreateAccount(name)])
        (account,) = [e.account for e in ev.decode(created.events)
                      if isinstance(e, ev.AccountCreated)]
        await replica.submit([Deposit(account, funds)])
        return account
    finally:
        await sender.stop()
        await replica.stop()


async def test_transfers_between_shards(broker: str, redis: Redis, redis_prefix: str,
                                        kafka_prefix: str) -> None:
    kafka = KafkaConfig(broker, prefix=kafka_prefix, idempotent=False)
    logs = {k: ShardLog(kafka, shard=k, shards=2) for k in (0, 1)}
    shards = {k: Shard(logs[k], redis, redis_prefix, f"engine-{k}") for k in (0, 1)}
    desks: list[TransferDesk] = []
    try:
        for shard in shards.values():
            await shard.up()
        alice = {k: await open_account(logs[k], "alice", FUNDS) for k in (0, 1)}

        def total(desk: TransferDesk) -> int:
            held = sum(cash(shards[k].core, alice[k]) for k in (0, 1) if shards[k].task
                       and not shards[k].task.done())
            return held + desk.in_transit()

        desk = TransferDesk(logs, CONFIG)
        desks.append(desk)
        await desk.start()

        # The receiving shard is down: the money waits in transit.
        await shards[1].down()
        first = Transfer("t-1", 0, alice[0], 1, alice[1], 12_345_00)
        desk.transfer(first)
        await wait_for(lambda: desk.progress["t-1"].status == Status.CREDITING)
        await wait_for(lambda: cash(shards[0].core, alice[0]) == FUNDS - 12_345_00)
        assert desk.in_transit() == 12_345_00

        # The desk restarts meanwhile; the new one finds the transfer in shard 0's log and
        # sends the credit again (the first send is still waiting in Kafka).
        await desk.stop()
        desk = TransferDesk(logs, CONFIG)
        desks.append(desk)
        await desk.start()
        assert desk.progress["t-1"].status == Status.CREDITING
        assert desk.progress["t-1"].transfer == first

        await shards[1].up()
        done = await desk.settled("t-1")
        assert done.status == Status.DONE
        await wait_for(lambda: cash(shards[1].core, alice[1]) == FUNDS + 12_345_00)
        assert shards[1].engine.replica.applier.repeats >= 1  # the second credit, left out
        assert total(desk) == 2 * FUNDS

        # Asking again for the same transfer moves nothing; another transfer with its id
        # is refused.
        assert desk.transfer(first) is done
        with pytest.raises(TransferConflictError):
            desk.transfer(Transfer("t-1", 0, alice[0], 1, alice[1], 1))

        # A credit the receiving shard refuses (no such account there) is refunded.
        refused = Transfer("t-2", 1, alice[1], 0, 10_000_000, 1_000_00)
        desk.transfer(refused)
        settled = await desk.settled("t-2")
        assert settled.status == Status.REFUNDED
        await wait_for(lambda: cash(shards[1].core, alice[1]) == FUNDS + 12_345_00)
        assert total(desk) == 2 * FUNDS

        # A debit the paying shard refuses (more than the free cash) moves nothing.
        desk.transfer(Transfer("t-3", 0, alice[0], 1, alice[1], 10 * FUNDS))
        assert (await desk.settled("t-3")).status == Status.FAILED
        assert total(desk) == 2 * FUNDS
        assert parse_requester(first.requester) == first
    finally:
        for desk in desks:
            with contextlib.suppress(Exception):
                await desk.stop()
        for shard in shards.values():
            if shard.task is not None and not shard.task.done():
                with contextlib.suppress(Exception):
                    await shard.down()


async def test_gridworks_transfer_moves_money_once(broker: str, redis: Redis,
                                                   redis_prefix: str, kafka_prefix: str) -> None:
    kafka = KafkaConfig(broker, prefix=kafka_prefix, idempotent=False)
    logs = {k: ShardLog(kafka, shard=k, shards=2) for k in (0, 1)}
    shards = {k: Shard(logs[k], redis, redis_prefix, f"engine-{k}") for k in (0, 1)}
    try:
        for shard in shards.values():
            await shard.up()
        alice = {k: await open_account(logs[k], "alice", FUNDS) for k in (0, 1)}
        env = {**os.environ, "GRIDWORKS_KAFKA_PREFIX": kafka_prefix,
               "GRIDWORKS_KAFKA_IDEMPOTENT": "0", "GRIDWORKS_MAX_ACCOUNTS": "64",
               "GRIDWORKS_MAX_ORDERS": "4096"}
        argv = [sys.executable, "-m", "gridworks.cli", "transfer", "--kafka", broker,
                "--shards", "2", "--id", "cli-1", "--from", f"1:{alice[1]}", "--to",
                f"0:{alice[0]}", "--amount", "1234.56"]
        for _ in range(2):  # the second run finds the transfer done and moves nothing
            run = await asyncio.create_subprocess_exec(
                *argv, env=env, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT)
            out, _ = await asyncio.wait_for(run.communicate(), 60)
            assert run.returncode == 0, out.decode()
            assert "transfer cli-1: done" in out.decode()
        await wait_for(lambda: cash(shards[0].core, alice[0]) == FUNDS + 1_234_56)
        assert cash(shards[1].core, alice[1]) == FUNDS - 1_234_56
    finally:
        for shard in shards.values():
            with contextlib.suppress(Exception):
                await shard.down()
