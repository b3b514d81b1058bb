"""Two traders over real WebSockets: orders, fills, positions, funds and the public channels,
each channel's snapshot plus updates consistent with the book; resume after reconnect."""

from __future__ import annotations

import asyncio

import pytest

from gateway.client import Client, ClientError
from marketdata.depth import depth_from_book
from tests.gateway.conftest import Exchange

SYMBOL = "RELIANCE"


def order(cid: str, side: str, qty: int, price: int, **extra: object) -> dict:
    return {"symbol": SYMBOL, "side": side, "qty": qty, "price": price,
            "client_order_id": cid, **extra}


async def test_a_trade_between_two_accounts(exchange: Exchange) -> None:
    alice, bob = await exchange.client(exchange.alice), await exchange.client(exchange.bob)
    watcher = await exchange.client()
    try:
        sub = await alice.request("subscribe", channels=["orders", "fills", "funds"])
        assert set(sub["subscribed"]) == {"orders", "fills", "funds"}
        assert (await alice.next_push("orders"))["data"] == []  # the snapshot: nothing open
        await alice.next_push("fills")
        funds_before = (await alice.next_push("funds"))["data"]
        await watcher.request("subscribe", channels=[f"depth.{SYMBOL}", f"trades.{SYMBOL}",
                                                     f"ticker.{SYMBOL}"])
        snapshot = await watcher.next_push(f"depth.{SYMBOL}")
        assert snapshot["snapshot"] is True

        sold = await alice.request("place", **order("s-1", "sell", 10, 141_300))
        assert (sold["status"], sold["leaves"], sold["client_order_id"]) == ("OPEN", 10, "s-1")
        bought = await bob.request("place", **order("b-1", "buy", 4, 141_300, tif="ioc"))
        assert (bought["status"], bought["filled"], bought["leaves"]) == ("FILLED", 4, 0)

        opened = await alice.next_push("orders")
        assert (opened["data"]["status"], opened["data"]["client_order_id"]) == ("OPEN", "s-1")
        partial = await alice.next_push("orders")
        assert (partial["data"]["status"], partial["data"]["filled"]) == ("PARTIALLY_FILLED", 4)
        assert partial["seq"] == opened["seq"] + 1
        fill = (await alice.next_push("fills"))["data"]
        assert (fill["qty"], fill["price"], fill["liquidity"]) == (4, 141_300, "maker")
        funds = (await alice.next_push("funds"))["data"]
        assert funds["blocked"] > funds_before["blocked"]

        assert (await watcher.next_push(f"trades.{SYMBOL}"))["snapshot"] is True
        trades = (await watcher.next_push(f"trades.{SYMBOL}"))["data"]["trades"]
        assert [t[1:4] for t in trades] == [[141_300, 4, "buy"]]
        positions = await bob.request("positions")
        (position,) = positions["positions"]
        assert (position["net"], position["average_price"]) == (4, 141_300)
        assert (await alice.request("order", client_order_id="s-1"))["leaves"] == 6
        assert [o["order_id"] for o in await alice.request("orders")] == [sold["order_id"]]
        cancelled = await alice.request("cancel", client_order_id="s-1")
        assert (cancelled["status"], cancelled["cancelled"]) == ("CANCELLED", 6)
        with pytest.raises(ClientError) as gone:
            await alice.request("cancel", client_order_id="s-1")
        assert gone.value.code == "ORDER_NOT_FOUND"
        with pytest.raises(ClientError) as never:
            await alice.request("order", client_order_id="never-sent")
        assert never.value.code == "ORDER_NOT_FOUND"
    finally:
        for client in (alice, bob, watcher):
            await client.close()


class DepthFollower:
    def __init__(self) -> None:
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.seq = 0

    def apply(self, push: dict) -> None:
        data = push["data"]
        if push.get("snapshot"):
            self.bids = {p: q for p, q, _ in data["bids"]}
            self.asks = {p: q for p, q, _ in data["asks"]}
        else:
            assert push["seq"] == self.seq + 1, "a gap in the depth channel"
            for side, changes in ((self.bids, data["bids"]), (self.asks, data["asks"])):
                for p, q, _ in changes:
                    if q:
                        side[p] = q
                    else:
                        side.pop(p, None)
        self.seq = push["seq"]


async def churn(client: Client, prefix: str, n: int) -> None:
    for i in range(n):
        side = "buy" if i % 2 else "sell"
        price = 141_000 + (i % 7) * 5 if side == "buy" else 141_400 + (i % 5) * 5
        await client.request("place", **order(f"{prefix}-{i}", side, 1 + i % 3, price))


async def test_depth_resumes_after_a_reconnect_without_gaps(exchange: Exchange) -> None:
    trader = await exchange.client(exchange.alice)
    watcher = await exchange.client()
    follower = DepthFollower()
    channel = f"depth.{SYMBOL}"
    try:
        epoch = (await watcher.request("subscribe", channels=[channel]))["epoch"]
        follower.apply(await watcher.next_push(channel))
        await churn(trader, "a", 10)
        while follower.seq < exchange.gateway.feeds.public(channel).seq:
            follower.apply(await watcher.next_push(channel))
        await watcher.close()

        await churn(trader, "b", 10)  # missed while away
        again = await exchange.client()
        from_another_run = await again.request("subscribe", channels=[channel],
                                               resume={channel: follower.seq}, epoch=epoch - 1)
        assert from_another_run["subscribed"][channel]["resumed"] is False
        await again.request("unsubscribe", channels=[channel])
        assert (await again.next_push(channel))["snapshot"] is True
        resumed = await again.request("subscribe", channels=[channel],
                                      resume={channel: follower.seq}, epoch=epoch)
        assert resumed["subscribed"][channel]["resumed"] is True
        assert resumed["subscribed"][channel]["replayed"] == 10
        while follower.seq < resumed["subscribed"][channel]["seq"]:
            follower.apply(await again.next_push(channel))
        await again.close()
    finally:
        await trader.close()
    book = depth_from_book(exchange.node.core.book.state().orders,
                           len(exchange.node.core.specs))[0]
    assert follower.bids == {p: q for p, q, _ in book.bids.top(20)}
    assert follower.asks == {p: q for p, q, _ in book.asks.top(20)}


async def test_an_old_resume_point_gets_a_snapshot(exchange: Exchange) -> None:
    exchange.gateway.feeds.retention = 3
    channel = f"depth.{SYMBOL}"
    exchange.gateway.feeds.channels.pop(channel, None)
    trader = await exchange.client(exchange.alice)
    try:
        await churn(trader, "c", 8)
        late = await exchange.client()
        reply = await late.request("subscribe", channels=[channel], resume={channel: 1},
                                   epoch=exchange.gateway.epoch)
        assert reply["subscribed"][channel]["resumed"] is False
        assert (await late.next_push(channel))["snapshot"] is True
        await late.close()
    finally:
        await trader.close()


async def test_funds_that_changed_while_nobody_followed_come_back_as_a_snapshot(
        exchange: Exchange) -> None:
    trader = await exchange.client(exchange.alice)
    try:
        await trader.request("subscribe", channels=["funds"])
        first = await trader.next_push("funds")
        await trader.request("place", **order("f-1", "buy", 1, 140_000))
        update = await trader.next_push("funds")
        assert update["seq"] == first["seq"] + 1
        await trader.request("unsubscribe", channels=["funds"])
        await trader.request("place", **order("f-2", "buy", 1, 140_000))  # nobody follows
        reply = await trader.request("subscribe", channels=["funds"],
                                     resume={"funds": update["seq"]},
                                     epoch=exchange.gateway.epoch)
        assert reply["subscribed"]["funds"]["resumed"] is False
        fresh = await trader.next_push("funds")
        assert fresh["snapshot"] is True
        assert fresh["seq"] > update["seq"]
        assert fresh["data"]["blocked"] == 2 * update["data"]["blocked"] - first["data"]["blocked"]
    finally:
        await trader.close()


async def test_heartbeats_carry_time_and_sequence_numbers(exchange: Exchange) -> None:
    client = await exchange.client()
    try:
        await client.request("subscribe", channels=[f"ticker.{SYMBOL}"])
        beat = await client.next_push("heartbeat", timeout=3)
        assert beat["data"]["seqs"] == {f"ticker.{SYMBOL}": 0}
        assert beat["data"]["time"] == beat["ts"]
        second = await client.next_push("heartbeat", timeout=3)
        assert second["seq"] == beat["seq"] + 1
    finally:
        await client.close()


async def test_msgpack_connections_trade_too(exchange: Exchange) -> None:
    client = await exchange.client(exchange.bob, fmt="msgpack")
    try:
        placed = await client.request("place", **order("m-1", "buy", 1, 141_000))
        assert placed["status"] == "OPEN"
        await client.request("subscribe", channels=["orders"])
        assert len((await client.next_push("orders"))["data"]) == 1
    finally:
        await client.close()


async def test_rate_limits_answer_without_closing(exchange: Exchange) -> None:
    client = await exchange.client(exchange.bob)
    try:
        replies = await asyncio.gather(*(client.call("ping") for _ in range(150)),
                                       return_exceptions=True)
        codes = [r["error"]["code"] for r in replies if isinstance(r, dict) and not r["ok"]]
        assert codes
        assert set(codes) == {"RATE_LIMITED"}
        await asyncio.sleep(0.2)
        assert (await client.request("ping"))["seq"] > 0
    finally:
        await client.close()


class CountingTransport:
    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.inner.write(data)  # type: ignore[attr-defined]

    def get_write_buffer_size(self) -> int:
        return self.inner.get_write_buffer_size()  # type: ignore[attr-defined]


async def test_a_batch_reaches_a_subscriber_in_one_write(exchange: Exchange) -> None:
    trader = await exchange.client(exchange.alice)
    watcher = await exchange.client()
    channels = [f"depth.{SYMBOL}", f"ticker.{SYMBOL}", f"trades.{SYMBOL}"]
    try:
        await watcher.request("subscribe", channels=channels)
        for channel in channels:
            await watcher.next_push(channel)  # the snapshots
        (conn,) = [c for c in exchange.gateway.connections if c.subscriptions]
        counting = CountingTransport(conn._transport)
        conn._transport = counting  # type: ignore[assignment]
        await trader.request("place", **order("w-1", "sell", 2, 141_300))
        bob = await exchange.client(exchange.bob)
        await bob.request("place", **order("w-2", "buy", 2, 141_300, tif="ioc"))
        for channel in channels:
            await watcher.next_push(channel)
        updates = [w for w in counting.writes if b"trades." in w]
        assert len(updates) == 1, "depth, ticker and trades of the trade in one write"
        assert b"depth." in updates[0]
        assert b"ticker." in updates[0]
        await bob.close()
    finally:
        await trader.close()
        await watcher.close()


def test_every_spelling_the_arguments_accept_has_a_meaning() -> None:
    import typing

    from gateway import ops

    hints = typing.get_type_hints(ops.PlaceArgs)
    for field, names in (("side", ops.SIDES), ("type", ops.TYPES), ("tif", ops.TIFS),
                         ("product", ops.PRODUCTS)):
        assert set(typing.get_args(hints[field])) == set(names), field


async def test_values_read_from_a_record_can_be_sent_back(exchange: Exchange) -> None:
    trader = await exchange.client(exchange.alice)
    try:
        placed = await trader.request("place", symbol=SYMBOL, side="BUY", qty=1,
                                      type="SL_M", trigger=141_500, tif="DAY", product="MIS",
                                      client_order_id="up-1")
        assert placed["status"] == "TRIGGER_PENDING"
        record = await trader.request("order", client_order_id="up-1")
        again = {k: record[k] for k in ("side", "type", "tif", "product", "trigger")}
        copy = await trader.request("place", symbol=SYMBOL, qty=1, client_order_id="up-2",
                                    **again)
        assert copy["status"] == "TRIGGER_PENDING"
        second = await trader.request("order", client_order_id="up-2")
        assert {k: second[k] for k in again} == again
    finally:
        await trader.close()
