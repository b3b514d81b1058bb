"""A cluster of processes on the real broker and Redis: a shard's leader and its standby,
two stateless gateways. Two traders on different gateways trade with each other while the
leader is killed with SIGKILL; the standby takes over; every acknowledged order is in the
log's state, no fill is applied twice, and both traders' private streams go on without a
gap through the failover."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import Counter
from pathlib import Path

import pytest

from bus.commandlog import COMMANDS_TOPIC, decode_entry
from engine import events as ev
from engine.commandlog import LogApplier
from engine.core import Core
from gateway.client import Client, ClientError
from gridworks.cluster import ClusterPlan, LocalCluster
from gridworks.config import NodeConfig, core_config
from tests.bus.conftest import read_all
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(240)
SYMBOL = "RELIANCE"


class Trader:
    """A terminal that places orders one after the other and keeps its private pushes."""

    def __init__(self, client: Client, tag: str, side: str) -> None:
        self.client, self.tag, self.side = client, tag, side
        self.acked: dict[str, int] = {}  # client order id -> order id
        self.refused: Counter[str] = Counter()
        self.pushes: list[dict] = []

    async def trade(self, stop: asyncio.Event) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            cid = f"{self.tag}{n}"
            try:
                done = await self.client.request("place", timeout=15, symbol=SYMBOL,
                                                 side=self.side, qty=1 + n % 3,
                                                 price=141_000, client_order_id=cid)
                self.acked[cid] = done["order_id"]
            except ClientError as exc:
                self.refused[exc.code] += 1
            self.pushes += self.client.drain()
            await asyncio.sleep(0.12)  # within the account's 10 orders a second


async def trader(cluster: LocalCluster, gateway: int, operator: dict, name: str,
                 side: str) -> Trader:
    url = f"ws://127.0.0.1:{cluster.gateways()[gateway].port}/"
    admin = await Client.connect(url)
    await admin.login(operator["key_id"], operator["secret"])
    made = await admin.request("create_account", name=name, funds=10_00_000_00)
    await admin.close()
    client = await Client.connect(url)
    await client.login(made["key_id"], made["secret"])
    await client.request("subscribe", channels=["orders", "fills"])
    return Trader(client, name[0], side)


def account_of(core: Core, t: Trader) -> int:
    record = core.registry.account_named({"a": "alice", "b": "bob"}[t.tag])
    assert record is not None
    return record.account


def log_state(records: list) -> tuple[Core, list[ev._Event]]:
    """The shard's state and events, rebuilt from its log as any replica does."""
    core, applier, events = Core(core_config(NodeConfig())), LogApplier(), []
    for r in records:
        admitted = applier.admit(decode_entry(r.offset, r.value, r.headers))
        if admitted is not None:
            events += ev.decode(core.apply(admitted.batch))
    return core, events


async def test_kill_9_the_leader_while_two_gateways_trade(
        broker: str, redis_prefix: str, kafka_prefix: str, tmp_path: Path) -> None:
    plan = ClusterPlan(kafka=broker, redis=REDIS, redis_prefix=redis_prefix,
                       kafka_prefix=kafka_prefix, kafka_idempotent=False, lease_ms=800,
                       env={"GRIDWORKS_FETCH_WAIT_MS": "5"})
    cluster = LocalCluster(tmp_path, plan)
    traders: list[Trader] = []
    try:
        cluster.start()
        first_leader = cluster.leader()
        assert first_leader is not None
        operator = cluster.credentials("operator")
        traders = [await trader(cluster, 0, operator, "alice", "buy"),
                   await trader(cluster, 1, operator, "bob", "sell")]
        stop = asyncio.Event()
        running = [asyncio.create_task(t.trade(stop)) for t in traders]
        await asyncio.sleep(2.0)
        cluster.kill(first_leader)
        await asyncio.sleep(1.0)
        before = {t.tag: len(t.acked) for t in traders}
        await asyncio.to_thread(cluster.wait, lambda: cluster.leader() is not None, 10)
        await asyncio.sleep(2.5)
        stop.set()
        await asyncio.gather(*running)
        for t in traders:
            await t.client.request("ping")
            t.pushes += t.client.drain()

        new_leader = cluster.leader()
        assert new_leader is not None
        assert new_leader.name != first_leader.name
        assert all(len(t.acked) > before[t.tag] for t in traders), "trading went on"
        assert all(set(t.refused) <= {"THROTTLED"} for t in traders), \
            [t.refused for t in traders]

        records = await read_all(broker, [kafka_prefix + COMMANDS_TOPIC])
        core, events = log_state(records)
        accepted = {(e.account, e.order_id) for e in events if isinstance(e, ev.Accepted)}
        for t in traders:
            account = account_of(core, t)
            for cid, order_id in t.acked.items():
                assert (account, order_id) in accepted, f"{cid} was acknowledged"
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
            account = account_of(core, t)
            mine = [e for e in trades if account in (e.buy_account, e.sell_account)]
            pushed = [f for p in t.pushes if p.get("ch") == "fills" and not p.get("snapshot")
                      for f in (p["data"] if isinstance(p["data"], list) else [p["data"]])]
            assert len(pushed) == len(mine)
    finally:
        for t in traders:
            with contextlib.suppress(Exception):
                await t.client.close()
        cluster.stop()
