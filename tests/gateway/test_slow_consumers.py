"""A client that stops reading: its public channels conflate to the latest state, its
private backlog gets a warning and then the connection is closed; others never wait."""

from __future__ import annotations

import asyncio
import socket
import time

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from accounts.keys import login_args
from gateway.connection import CLOSE_SLOW, Connection
from gateway.limits import Limits
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import SYMBOL, DepthFollower, order

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def limits() -> Limits:
    return Limits(heartbeat_s=0.2, outbound_soft=2_048, outbound_hard=48_000,
                  slow_grace_s=0.3, write_buffer=1_024, socket_send_buffer=4_096,
                  messages_per_s=10_000)


async def stalled(url: str) -> ClientConnection:
    """A connection with tiny buffers whose client reads nothing until asked to."""
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2_048)  # before connect: sets the window
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return await connect(url, sock=sock, max_queue=1, compression=None, ping_interval=None,
                         close_timeout=0.5)


async def send(ws: ClientConnection, request_id: int, op: str, **args: object) -> None:
    await ws.send(msgspec.json.encode({"id": request_id, "op": op, "args": args}).decode())


async def the_new_connection(exchange: Exchange, known: set[Connection]) -> Connection:
    for _ in range(200):
        fresh = exchange.gateway.connections - known
        if fresh:
            (conn,) = fresh
            return conn
        await asyncio.sleep(0.01)
    raise AssertionError("the gateway never registered the connection")


async def read_channel_until(ws: ClientConnection, channel: str, last_seq: int) -> list[dict]:
    seen: list[dict] = []
    while not seen or seen[-1]["seq"] < last_seq:
        items = msgspec.json.decode(await asyncio.wait_for(ws.recv(), 5))
        seen += [item for item in (items if isinstance(items, list) else [items])
                 if item.get("ch") == channel]
    return seen


async def read_all(ws: ClientConnection) -> None:
    while True:
        await asyncio.wait_for(ws.recv(), 5)


async def test_public_channels_conflate_for_a_reader_that_fell_behind(
        exchange: Exchange) -> None:
    channel = f"depth.{SYMBOL}"
    slow = await stalled(exchange.url)
    slow_conn = await the_new_connection(exchange, set())
    fast = await exchange.client()
    trader = await exchange.client(exchange.alice)
    try:
        await send(slow, 1, "subscribe", channels=[channel])
        await fast.request("subscribe", channels=[channel])
        follower = DepthFollower()
        follower.apply(await fast.next_push(channel))
        # Enough updates to overflow the stalled path's buffers: how many the kernel absorbs
        # varies from run to run, so keep going (never crossing) until the channel conflates.
        for i in range(1_000):
            step = (i % 300) * 5
            side, price = ("buy", 135_000 + step) if i % 2 else ("sell", 145_000 - step)
            await asyncio.wait_for(trader.request("place", **order(f"q{i}", side, 1, price)), 5)
            if i >= 150 and slow_conn.conflated:
                break
        final = exchange.gateway.feeds.public(channel).seq
        while follower.seq < final:  # the fast reader got every update meanwhile
            follower.apply(await fast.next_push(channel))
        assert slow_conn.conflated, "the stalled reader's depth channel should be conflated"
        assert not slow_conn.closed, "public backlog alone never closes a connection"

        seen = await read_channel_until(slow, channel, final)
        assert len(seen) < final, "updates were conflated, not all sent"
        assert any(s.get("snapshot") for s in seen[1:]), "conflation ends with a fresh snapshot"
        late = DepthFollower()
        for item in seen[max(i for i, s in enumerate(seen) if s.get("snapshot")):]:
            late.apply(item)
        assert (late.bids, late.asks) == (follower.bids, follower.asks)
    finally:
        await slow.close()
        await fast.close()
        await trader.close()


async def test_a_private_backlog_is_warned_then_closed(exchange: Exchange) -> None:
    slow = await stalled(exchange.url)
    slow_conn = await the_new_connection(exchange, set())
    trader = await exchange.client(exchange.alice)
    try:
        await send(slow, 1, "login", **login_args(exchange.alice.key_id, exchange.alice.secret))
        await send(slow, 2, "subscribe", channels=["orders", "fills", "funds"])
        for _ in range(200):
            if "orders" in slow_conn.subscriptions:
                break
            await asyncio.sleep(0.01)
        assert "orders" in slow_conn.subscriptions
        deadline = time.monotonic() + 30
        placed = 0
        while not slow_conn.closed and time.monotonic() < deadline:
            await asyncio.wait_for(
                trader.request("place", **order(f"p{placed}", "buy", 1, 140_000)), 5)
            placed += 1
            if slow_conn.slow_since:
                await asyncio.sleep(0.02)  # let the grace period run out
        assert slow_conn.closed, "a reader that never drains its private backlog is closed"
        assert slow_conn.slow_since > 0, "it was warned first"
        with pytest.raises(ConnectionClosed):  # reading the backlog ends with the reason
            await read_all(slow)
        assert (slow.close_code, slow.close_reason) == (CLOSE_SLOW, "SLOW_CONSUMER")
        # The trader's own connection and the server carry on.
        assert (await trader.request("orders"))[-1]["client_order_id"] == f"p{placed - 1}"
    finally:
        await slow.close()
        await trader.close()
