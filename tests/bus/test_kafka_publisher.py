"""The Kafka publisher against a real broker: every topic gets its records, identical to
what the core's events say; a publisher that dies mid-stream and starts again leaves every
record exactly once after consumers drop duplicates by their names."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest

from bus import schemas
from bus.kafka import Deduplicator, KafkaConfig, KafkaPublisher, decoder, topic_names
from bus.records import Records
from engine.commands import Amend, Cancel, Command, NewOrder, SetLimits
from engine.core import CoreConfig
from engine.types import Side, TimeInForce
from gridworks.admin import Admin
from gridworks.config import NodeConfig, core_config
from gridworks.node import Node
from portfolio.views import position_view
from store import shadow
from tests.bus.conftest import Consumed, read_all

pytestmark = pytest.mark.timeout(120)
RUPEE = 100


async def started_node(data: Path) -> tuple[Node, list[int]]:
    node = Node(NodeConfig(data_dir=data, max_orders=4096, max_accounts=64, fsync="os",
                           square_off_at="", end_of_day_at="", mark_interval_ms=-1,
                           demo_accounts=False, snapshot_every=0))
    await node.start()
    admin = Admin(node, node.kek)
    accounts = []
    for name in ("alice", "bob", "carol"):
        account, _ = await admin.create_account(name, 10_00_000 * RUPEE)
        accounts.append(account)
    await node.submit([SetLimits(a, rate_per_s=0) for a in accounts])
    return node, accounts


def flow(accounts: list[int], start: int, n: int) -> list[Command]:
    """Orders around 1410.00 that trade, rest, get amended and cancelled."""
    out: list[Command] = []
    for i in range(start, start + n):
        account = accounts[i % len(accounts)]
        side = Side.BUY if i % 2 else Side.SELL
        price = 141_000 + (i % 7 - 3) * 5 * (1 if side == Side.BUY else -1)
        out.append(NewOrder(account=account, instrument=0, side=side, qty=1 + i % 5,
                            price=price, client_order_id=f"k{i}",
                            tif=TimeInForce.IOC if i % 11 == 0 else TimeInForce.DAY))
        if i % 9 == 0:
            out.append(Cancel(account, client_order_id=f"k{i - 3}"))
        if i % 13 == 0:  # a resting order, amended
            out += [NewOrder(account=account, instrument=0, side=Side.BUY, qty=5,
                             price=130_000, client_order_id=f"r{i}"),
                    Amend(account, client_order_id=f"r{i}", qty=3)]
    return out


def reference(data: Path, config: CoreConfig, until: int) -> dict[tuple[str, int, int], bytes]:
    """The event records the journal implies (positions aside: a state feed), by name."""
    core = shadow.core_at(data, 0, config)
    records = Records(core)
    out = {}
    for batch in shadow.read_range(data, 0, until):
        for r in records.build(batch, shadow.advance(core, batch).tolist()):
            if r.topic != "positions.updated":
                out[(r.topic, r.seq, r.index)] = msgspec.json.encode(r.message)
    return out


def named(records: list[Consumed]) -> tuple[dict[tuple[str, int, int], bytes], int]:
    """The records after dropping duplicates (positions aside), and how many were dropped."""
    dedupe = Deduplicator()
    out = {}
    for c in records:
        if c.topic == "positions.updated" or not dedupe.fresh(c.topic, c.partition, c.headers):
            continue
        h = dict(c.headers)
        name = (c.topic, int(h["gw-seq"]), int(h["gw-index"]))
        assert name not in out, name
        out[name] = c.value
    return out, dedupe.dropped


async def published(publisher: KafkaPublisher, seq: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while publisher.stats.checkpoint_seq < seq:
        assert time.monotonic() < deadline, publisher.status()
        await asyncio.sleep(0.05)


async def test_every_topic_carries_what_the_core_did(broker: str, tmp_path: Path) -> None:
    node, accounts = await started_node(tmp_path)
    config = KafkaConfig(broker, idempotent=False, partitions=3)
    publisher = KafkaPublisher(tmp_path, core_config(node.config), config,
                               durable_seq=node.core.last_seq)
    node.listeners.append(publisher.feed)
    task = asyncio.create_task(publisher.run())
    try:
        await node.submit(flow(accounts, 0, 300))
        for i in range(0, 200, 20):  # several batches
            await node.submit(flow(accounts, 300 + i, 20))
        await published(publisher, node.core.last_seq)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    expected = reference(tmp_path, core_config(node.config), node.core.last_seq)
    got, dropped = named(await read_all(broker, topic_names(config)))
    assert dropped == 0
    assert got == expected
    topics = {name[0] for name in got}
    assert {"orders.created", "orders.executed", "orders.cancelled", "orders.amended",
            "orders.rejected", "users.registered", "audit.keys", "audit.funds",
            "audit.risk", "audit.market", "marketdata.trades"} <= topics
    messages = [decoder("json")(v) for v in got.values()]
    executed = [m for m in messages if isinstance(m, schemas.OrderExecuted)]
    trades = [m for m in messages if isinstance(m, schemas.TradePrinted)]
    assert len(executed) == 2 * len(trades) > 0
    assert {m.name for m in messages if isinstance(m, schemas.AccountRegistered)} == {
        "alice", "bob", "carol"}
    # positions: a state feed; the newest record of each position is the core's position
    latest: dict[tuple[int, str, str], schemas.PositionUpdated] = {}
    for c in await read_all(broker, ["positions.updated"]):
        m = decoder("json")(c.value)
        assert isinstance(m, schemas.PositionUpdated)
        key = (m.account, m.symbol, m.product)
        if key not in latest or m.seq >= latest[key].seq:
            latest[key] = m
    assert latest
    risk = node.core.risk
    assert risk is not None
    for (account, symbol, product), m in latest.items():
        views = [position_view(r, [0] * len(node.core.specs))
                 for r in risk.positions_of(account)]
        (row,) = [v for v in views if node.core.specs[v.instrument].symbol == symbol
                  and v.product.name == product]
        assert (m.net, m.basis, m.realised) == (row.net, row.basis, row.realised)
    await node.stop()


async def test_a_publisher_that_dies_mid_stream_leaves_every_record_once(
        broker: str, tmp_path: Path) -> None:
    node, accounts = await started_node(tmp_path)
    config = KafkaConfig(broker, idempotent=False, partitions=3, checkpoint_s=3600, chunk=20)
    cfg = core_config(node.config)
    first = KafkaPublisher(tmp_path, cfg, config, durable_seq=node.core.last_seq)
    node.listeners.append(first.feed)
    task = asyncio.create_task(first.run())
    await node.submit(flow(accounts, 0, 100))
    await published(first, node.core.last_seq)  # checkpointed when idle
    checkpoint = first.stats.checkpoint_seq
    before = first.stats.records
    for i in range(0, 400, 10):
        node.enqueue(flow(accounts, 100 + i, 10))
    deadline = time.monotonic() + 30
    while first.stats.records < before + 200:  # well into the second stretch
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)
    task.cancel()  # no checkpoint since the first stretch
    await asyncio.gather(task, return_exceptions=True)
    node.listeners.remove(first.feed)
    assert first.stats.checkpoint_seq == checkpoint
    await node.submit(flow(accounts, 500, 30))
    second = KafkaPublisher(tmp_path, cfg, KafkaConfig(broker, idempotent=False, partitions=3),
                            durable_seq=node.core.last_seq)
    node.listeners.append(second.feed)
    task = asyncio.create_task(second.run())
    try:
        await published(second, node.core.last_seq)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    got, dropped = named(await read_all(broker, topic_names(config)))
    assert dropped > 0  # the second publisher sent again what followed the checkpoint
    assert got == reference(tmp_path, cfg, node.core.last_seq)
    await node.stop()
