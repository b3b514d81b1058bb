"""A cluster of processes on the real broker and Redis: two shards, each with a leader, a
standby and two stateless gateways. On each shard two traders on different gateways trade
with each other, and money moves from shard 1 to shard 0, while shard 0's leader is killed
with SIGKILL; its standby takes over; then every trader moves to the other gateway of its
shard and resumes its streams there. Every acknowledged order is in its shard's log state,
no fill is applied twice, each trader's private streams go on without a gap or a repeat
through the failover and the move, and the transfer completes with the money conserved."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from pathlib import Path

import pytest

from accounts.transfers import Status, Transfer
from bus.commandlog import COMMANDS_TOPIC, ShardLog, decode_entry
from bus.kafka import KafkaConfig
from engine import events as ev
from engine.commandlog import LogApplier
from engine.core import Core
from engine.sequencer import order_shard, shard_order_ids
from gateway.client import Client, ClientError
from gridworks.cluster import ClusterPlan, LocalCluster
from gridworks.config import NodeConfig, core_config
from gridworks.transfers import TransferDesk
from tests.bus.conftest import read_all
from tests.cluster.test_shard import cash
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(240)
# Symbol shards: RELIANCE is shard 0's, TCS shard 1's (every second demo instrument each).
MARKETS = {0: ("RELIANCE", 141_000), 1: ("TCS", 305_000)}
CAROL = 5_000_00


class Trader:
    """A terminal that places orders one after the other and keeps its private pushes."""

    def __init__(self, client: Client, tag: str, side: str, shard: int,
                 key: tuple[str, str], epoch: int) -> None:
        self.client, self.tag, self.side = client, tag, side
        self.symbol, self.price = MARKETS[shard]
        self.shard = shard
        self.key, self.epoch = key, epoch
        self.numbers = itertools.count()  # client order ids go on after a move
        self.acked: dict[str, int] = {}  # client order id -> order id
        self.refused: Counter[str] = Counter()
        self.pushes: list[dict] = []

    async def trade(self, stop: asyncio.Event) -> None:
        for n in self.numbers:
            if stop.is_set():
                return
            cid = f"{self.tag}{n}"
            try:
                done = await self.client.request("place", timeout=15, symbol=self.symbol,
                                                 side=self.side, qty=1 + n % 3,
                                                 price=self.price, client_order_id=cid)
                self.acked[cid] = done["order_id"]
            except ClientError as exc:
                self.refused[exc.code] += 1
            self.pushes += self.client.drain()
            await asyncio.sleep(0.12)  # within the account's 10 orders a second

    async def move(self, url: str) -> None:
        """Reconnect to another gateway and resume both streams after the last push seen."""
        await self.client.request("ping")
        self.pushes += self.client.drain()
        await self.client.close()
        last = {ch: max(p["seq"] for p in self.pushes if p.get("ch") == ch)
                for ch in ("orders", "fills")}
        self.client = await Client.connect(url)
        await self.client.login(*self.key)
        answer = await self.client.request("subscribe", channels=["orders", "fills"],
                                           epoch=self.epoch, resume=last)
        assert answer["epoch"] == self.epoch
        assert all(c["resumed"] for c in answer["subscribed"].values()), answer


async def trader(cluster: LocalCluster, shard: int, gateway: int, name: str,
                 side: str) -> Trader:
    operator = cluster.credentials("operator", shard)
    url = f"ws://127.0.0.1:{cluster.gateways(shard)[gateway].port}/"
    admin = await Client.connect(url)
    await admin.login(operator["key_id"], operator["secret"])
    made = await admin.request("create_account", name=name, funds=10_00_000_00)
    if gateway == 0:  # the account money moves between shards for, funded on shard 1
        await admin.request("create_account", name="carol", funds=CAROL * shard, scopes=[])
    await admin.close()
    client = await Client.connect(url)
    await client.login(made["key_id"], made["secret"])
    subscribed = await client.request("subscribe", channels=["orders", "fills"])
    return Trader(client, name[0], side, shard, (made["key_id"], made["secret"]),
                  subscribed["epoch"])


def account_named(core: Core | None, name: str) -> int:
    assert core is not None
    record = core.registry.account_named(name)
    assert record is not None
    return record.account


def log_state(records: list, shard: int) -> tuple[Core, list[ev._Event]]:
    """A shard's state and events, rebuilt from its log as any replica does."""
    core, events = Core(core_config(NodeConfig())), []
    applier = LogApplier(order_id_base=shard_order_ids(shard))
    for r in records:
        admitted = applier.admit(decode_entry(r.offset, r.value, r.headers))
        if admitted is not None:
            events += ev.decode(core.apply(admitted.batch))
    return core, events


def check_shard(core: Core, events: list[ev._Event], traders: list[Trader]) -> None:
    """Every acknowledged order is in the shard, no fill twice, gapless private streams."""
    accepted = {(e.account, e.order_id) for e in events if isinstance(e, ev.Accepted)}
    for t in traders:
        account = account_named(core, {"a": "alice", "b": "bob"}[t.tag])
        for cid, order_id in t.acked.items():
            assert (account, order_id) in accepted, f"{cid} was acknowledged"
            assert order_shard(order_id) == t.shard  # order ids name their shard
            assert core.client_ids[(account, cid)] == order_id
    trades = [e for e in events if isinstance(e, ev.Traded)]
    assert trades, "the two traders traded with each other"
    assert len({e.trade_id for e in trades}) == len(trades)
    filled: Counter[int] = Counter()
    for e in trades:
        filled[e.buy_order_id] += e.qty
        filled[e.sell_order_id] += e.qty
    ordered = {e.order_id: e.qty for e in events if isinstance(e, ev.Accepted)}
    assert all(filled[o] <= ordered[o] for o in filled), "no fill applied twice"
    for t in traders:  # the gateways stayed up: one gapless stream each
        by_channel: dict[str, list[int]] = {}
        for push in t.pushes:
            if push.get("ch") in ("orders", "fills"):
                by_channel.setdefault(push["ch"], []).append(push["seq"])
        for channel, seqs in by_channel.items():
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), channel
        account = account_named(core, {"a": "alice", "b": "bob"}[t.tag])
        mine = [e for e in trades if account in (e.buy_account, e.sell_account)]
        pushed = [f for p in t.pushes if p.get("ch") == "fills" and not p.get("snapshot")
                  for f in (p["data"] if isinstance(p["data"], list) else [p["data"]])]
        assert len(pushed) == len(mine)


async def test_kill_9_a_leader_while_both_shards_trade(
        broker: str, redis_prefix: str, kafka_prefix: str, tmp_path: Path) -> None:
    plan = ClusterPlan(kafka=broker, redis=REDIS, shards=2, redis_prefix=redis_prefix,
                       kafka_prefix=kafka_prefix, kafka_idempotent=False, lease_ms=800,
                       env={"GRIDWORKS_FETCH_WAIT_MS": "5"})
    cluster = LocalCluster(tmp_path, plan)
    traders: dict[int, list[Trader]] = {}
    desk = None
    try:
        cluster.start()
        first_leader = cluster.leader(0)
        assert first_leader is not None
        # Each shard's first leader made the demo accounts alike: one login for both.
        assert cluster.credentials("demo", 0) == cluster.credentials("demo", 1)
        assert cluster.credentials("operator", 0) == cluster.credentials("operator", 1)
        for shard in (0, 1):
            traders[shard] = [await trader(cluster, shard, 0, "alice", "buy"),
                              await trader(cluster, shard, 1, "bob", "sell")]
        everyone = [t for pair in traders.values() for t in pair]
        stop = asyncio.Event()
        running = [asyncio.create_task(t.trade(stop)) for t in everyone]
        kafka = KafkaConfig(broker, prefix=kafka_prefix, idempotent=False)
        desk = TransferDesk({k: ShardLog(kafka, shard=k, shards=2) for k in (0, 1)},
                            core_config(NodeConfig()))
        await desk.start()
        carol = {k: account_named(desk.replicas[k].core, "carol") for k in (0, 1)}
        await asyncio.sleep(2.0)

        cluster.kill(first_leader)  # and move money onto the shard that has no leader now
        desk.transfer(Transfer("move-1", 1, carol[1], 0, carol[0], 1_234_00))
        await asyncio.sleep(1.0)
        before = {id(t): len(t.acked) for t in everyone}
        await asyncio.to_thread(cluster.wait, lambda: cluster.leader(0) is not None, 10)
        assert (await desk.settled("move-1", 20)).status == Status.DONE
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*running)
        after_failover = {id(t): len(t.acked) for t in everyone}
        for shard, pair in traders.items():  # alice was on gateway 0, bob on gateway 1
            for gateway, t in enumerate(pair):
                await t.move(f"ws://127.0.0.1:{cluster.gateways(shard)[1 - gateway].port}/")
        stop = asyncio.Event()
        running = [asyncio.create_task(t.trade(stop)) for t in everyone]
        await asyncio.sleep(1.5)
        stop.set()
        await asyncio.gather(*running)
        for t in everyone:
            await t.client.request("ping")
            t.pushes += t.client.drain()

        new_leader = cluster.leader(0)
        assert new_leader is not None
        assert new_leader.name != first_leader.name
        assert all(len(t.acked) > before[id(t)] for t in everyone), "trading went on"
        assert all(len(t.acked) > after_failover[id(t)] for t in everyone), "and after the move"
        assert all(set(t.refused) <= {"THROTTLED"} for t in everyone), \
            [t.refused for t in everyone]
        records = await read_all(broker, [kafka_prefix + COMMANDS_TOPIC])
        for shard in (0, 1):
            core, events = log_state([r for r in records if r.partition == shard], shard)
            assert [spec.symbol for spec in core.specs][:1] == [MARKETS[shard][0]]
            assert MARKETS[1 - shard][0] not in {spec.symbol for spec in core.specs}
            check_shard(core, events, traders[shard])
            assert cash(core, carol[shard]) == (CAROL - 1_234_00 if shard else 1_234_00)
        assert desk.in_transit() == 0
    finally:
        for t in (t for pair in traders.values() for t in pair):
            with contextlib.suppress(Exception):
                await t.client.close()
        if desk is not None:
            await desk.stop()
        cluster.stop()
