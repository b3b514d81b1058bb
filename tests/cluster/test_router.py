"""One connection for every shard, through the routers of a cluster of processes: two
shards (RELIANCE on shard 0, TCS on shard 1), each with an engine and two gateways, and two
routers. One account and key for both shards (the demo trader, and an account made with the
account desk); orders go to the shard owning their instrument, cancels to the shard their
order id names, queries merge every shard's answer, private channels come per shard, and
a client that reconnects through the other router resumes every channel where it was; when
a shard's gateway is killed, the clients whose connections went through it are closed
(1012), reconnect, and resume through the gateway that is left."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as connect_ws
from websockets.exceptions import InvalidStatus

from engine.sequencer import order_shard
from gateway.client import Client, ClientError
from gridworks.cluster import ClusterPlan, LocalCluster
from tests.cluster.conftest import shared_account
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(180)
PRICES = {"RELIANCE": 141_000, "TCS": 305_000}
FUNDS = 5_00_000_00


async def connect(router: object, key: tuple[str, str]) -> Client:
    client = await Client.connect(f"ws://127.0.0.1:{router.port}/")  # type: ignore[attr-defined]
    await client.login(*key)
    return client


def order(symbol: str, side: str, cid: str, qty: int = 1) -> dict:
    return {"symbol": symbol, "side": side, "qty": qty, "price": PRICES[symbol],
            "client_order_id": cid}


def gapless(pushes: list[dict], channel: str) -> list[int]:
    seqs = [p["seq"] for p in pushes if p["ch"] == channel]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (channel, seqs)
    return seqs


async def test_one_connection_trades_on_every_shard(broker: str, redis_prefix: str,
                                                    kafka_prefix: str, tmp_path: Path) -> None:
    plan = ClusterPlan(kafka=broker, redis=REDIS, shards=2, engines_per_shard=1,
                       routers=2, redis_prefix=redis_prefix, kafka_prefix=kafka_prefix,
                       kafka_idempotent=False, env={"GRIDWORKS_FETCH_WAIT_MS": "5"})
    cluster = LocalCluster(tmp_path, plan)
    clients: list[Client] = []
    desk = None
    try:
        cluster.start()
        first, second = cluster.routers()
        desk, _, bob = await shared_account(cluster, "bob", FUNDS)
        demo = cluster.credentials("demo")
        alice = await connect(first, (demo["key_id"], demo["secret"]))
        clients.append(alice)
        seller = await connect(second, (bob.key_id, bob.secret))
        clients.append(seller)

        subscribed = await alice.request("subscribe", channels=["orders", "fills"])
        assert sorted(subscribed["subscribed"]) == ["fills.0", "fills.1", "orders.0",
                                                    "orders.1"]
        epoch = subscribed["epoch"]
        assert (await seller.request("subscribe", channels=["orders.1"]))["epoch"] == epoch

        # Orders go to the shard owning their instrument; their ids name it.
        placed = {}
        for symbol in PRICES:
            placed[symbol] = await alice.request("place", **order(symbol, "buy", f"a-{symbol}", 3))
            await asyncio.sleep(0.12)
        assert order_shard(placed["RELIANCE"]["order_id"]) == 0
        assert order_shard(placed["TCS"]["order_id"]) == 1
        listed = await alice.request("orders")
        assert sorted(o["symbol"] for o in listed) == ["RELIANCE", "TCS"]

        # Bob sells into both; the fills come on each shard's own channel.
        for symbol in PRICES:
            await seller.request("place", **order(symbol, "sell", f"b-{symbol}", 2))
            await asyncio.sleep(0.12)
        fills: list[dict] = []
        for k, symbol in enumerate(PRICES):  # after each channel's snapshot, its trade
            while True:
                push = await alice.next_push(f"fills.{k}", timeout=10)
                fills.append(push)
                if not push.get("snapshot"):
                    break
            traded = push["data"] if isinstance(push["data"], list) else [push["data"]]
            assert [(f["symbol"], f["qty"]) for f in traded] == [(symbol, 2)]
        positions = await alice.request("positions")
        assert sorted(p["symbol"] for p in positions["positions"]) == ["RELIANCE", "TCS"]
        funds = await alice.request("funds")
        assert sorted(funds["shards"]) == ["0", "1"]
        assert funds["cash"] == sum(f["cash"] for f in funds["shards"].values())

        # A cancel by client order id through the other router finds the order's shard.
        other = await connect(second, (demo["key_id"], demo["secret"]))
        clients.append(other)
        cancelled = await other.request("cancel", client_order_id="a-TCS")
        assert cancelled["status"] == "CANCELLED"
        await other.request("cancel", order_id=placed["RELIANCE"]["order_id"])
        assert await other.request("orders") == []

        # A page of a foreign origin is refused, as by the gateways.
        with pytest.raises(InvalidStatus) as foreign:
            await connect_ws(f"ws://127.0.0.1:{first.port}/", origin="http://evil.example")
        assert foreign.value.response.status_code == 403

        # Clear errors for what the router does not route.
        with pytest.raises(ClientError) as unknown:
            await alice.request("place", **{**order("TCS", "buy", "x"), "symbol": "NOPE"})
        assert unknown.value.code == "UNKNOWN_SYMBOL"
        with pytest.raises(ClientError) as wide:
            await alice.request("create_account", name="mallory")
        assert wide.value.code == "NOT_ROUTED"
        with pytest.raises(ClientError) as missing:
            await alice.request("order", order_id=7 * 10**12 + 1)
        assert missing.value.code == "ORDER_NOT_FOUND"

        # Alice moves to the other router and resumes every channel where she was.
        await alice.request("ping")
        seen = alice.drain()
        await alice.close()
        clients.remove(alice)
        last = {ch: max(p["seq"] for p in seen + fills if p["ch"] == ch)
                for ch in ("orders.0", "orders.1", "fills.0", "fills.1")}
        await seller.request("place", **order("RELIANCE", "sell", "b-more", 1))  # meanwhile
        await asyncio.sleep(0.12)
        await other.request("place", **order("RELIANCE", "buy", "a-more", 1))
        moved = await connect(second, (demo["key_id"], demo["secret"]))
        clients.append(moved)
        resumed = await moved.request("subscribe", channels=["orders", "fills"], epoch=epoch,
                                      resume=last)
        assert resumed["epoch"] == epoch
        assert all(state["resumed"] for state in resumed["subscribed"].values()), resumed
        await asyncio.sleep(0.5)
        await moved.request("ping")
        after = moved.drain()
        stream = [p for p in seen + fills if p["ch"].startswith(("orders.", "fills."))] + [
            p for p in after if p["ch"].startswith(("orders.", "fills."))]
        for channel in ("orders.0", "fills.0"):
            seqs = gapless(sorted({p["seq"]: p for p in stream if p["ch"] == channel}.values(),
                                  key=lambda p: p["seq"]), channel)
            assert seqs[-1] > last[channel], "the trade made meanwhile came back"
        cids = [p["data"]["client_order_id"] for p in after if p["ch"] == "orders.0"]
        assert "a-more" in cids

        # Two more connections through one router reach shard 1 by its two gateways in turn.
        pair = [await connect(first, (demo["key_id"], demo["secret"])) for _ in range(2)]
        clients.extend(pair)
        for client in pair:
            await client.request("subscribe", channels=["orders.1"], epoch=epoch)
        cluster.kill(cluster.gateways(1)[0])
        await asyncio.sleep(1.0)
        closed = [c for c in pair if c.ws.close_code is not None]
        assert len(closed) == 1, [c.ws.close_code for c in pair]
        assert closed[0].ws.close_code == 1012
        survivor = next(c for c in pair if c is not closed[0])
        await survivor.request("place", **order("TCS", "buy", "a-after", 1))  # still trades
        again = await connect(first, (demo["key_id"], demo["secret"]))
        clients.append(again)
        seen_by_closed = [p for p in closed[0].drain() if p["ch"] == "orders.1"]
        point = max(p["seq"] for p in seen_by_closed)
        back = await again.request("subscribe", channels=["orders.1"], epoch=epoch,
                                   resume={"orders.1": point})
        assert back["subscribed"]["orders.1"]["resumed"] is True
        await asyncio.sleep(0.3)
        await again.request("ping")
        replayed = [p for p in again.drain() if p["ch"] == "orders.1"]
        assert [p["seq"] for p in replayed] == list(range(point + 1, point + 1 + len(replayed)))
        assert "a-after" in [p["data"]["client_order_id"] for p in replayed]
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        if desk is not None:
            await desk.stop()
        cluster.stop()
