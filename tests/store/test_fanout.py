"""Market data fanned out through the real Redis: two relay gateways serve a node's public
channels with the node's own sequence numbers and data; a client resumes on another relay;
lost messages upstream reach clients as a snapshot, never as a hole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bus.redis_fanout import FanoutPublisher, FanoutReader
from gateway.client import Client
from gateway.relay import Relay
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import DepthFollower, churn
from tests.store.conftest import REDIS
from tests.store.proxy import CuttableProxy

pytestmark = pytest.mark.timeout(120)
DEPTH = "depth.RELIANCE"


@pytest.fixture
async def fanout(exchange: Exchange, redis_prefix: str) -> AsyncIterator[tuple[
        FanoutPublisher, CuttableProxy, list[Relay]]]:
    proxy = await CuttableProxy("127.0.0.1", 6379).start()
    publisher_redis = Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.3,
                                     socket_connect_timeout=0.3)
    publisher = FanoutPublisher(publisher_redis, exchange.gateway, redis_prefix)
    publisher.attach()
    task = asyncio.create_task(publisher.run())
    readers = [Redis.from_url(REDIS) for _ in range(2)]
    relays = []
    try:
        while not publisher.stats.connected:
            await asyncio.sleep(0.01)
        for redis in readers:
            relay = Relay(FanoutReader(redis, redis_prefix), port=0)
            await relay.start()
            relays.append(relay)
        yield publisher, proxy, relays
    finally:
        for relay in relays:
            await relay.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        for redis in [*readers, publisher_redis]:
            await redis.aclose()
        await proxy.stop()


async def follow(url: str) -> tuple[Client, DepthFollower, dict]:
    client = await Client.connect(url)
    follower = DepthFollower()
    reply = await client.request("subscribe", channels=[DEPTH, "trades.RELIANCE"])
    return client, follower, reply


def apply_all(client: Client, follower: DepthFollower) -> list[dict]:
    pushes = client.drain(DEPTH)
    for push in pushes:
        follower.apply(push)  # asserts there is no gap after a snapshot
    return pushes


async def settle(publisher: FanoutPublisher, relays: list[Relay], seq: int) -> None:
    for _ in range(300):
        if all(r.channels.get(DEPTH) and r.channels[DEPTH].seq >= seq for r in relays):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the relays did not catch up to {seq}")


async def test_relays_serve_the_nodes_channels_with_its_numbers(
        exchange: Exchange, fanout: tuple[FanoutPublisher, CuttableProxy, list[Relay]]) -> None:
    publisher, _, relays = fanout
    trader = await exchange.client(exchange.alice)
    await churn(trader, "warm", 4)  # the channels exist and have snapshots
    await asyncio.sleep(1.2)
    node_client, node_book, node_reply = await follow(exchange.url)
    relayed = [await follow(f"ws://127.0.0.1:{r.port}/") for r in relays]
    assert all(reply["epoch"] == node_reply["epoch"] for _, _, reply in relayed)
    await churn(trader, "live", 40)
    final = exchange.gateway.feeds.channels[DEPTH].seq
    await settle(publisher, relays, final)
    await asyncio.sleep(0.2)
    node_pushes = apply_all(node_client, node_book)
    for client, book, _ in relayed:
        pushes = apply_all(client, book)
        assert book.seq == node_book.seq == final
        assert (book.bids, book.asks) == (node_book.bids, node_book.asks)
        tail = {p["seq"]: p["data"] for p in pushes if not p.get("snapshot")}
        assert all(tail[s] == p["data"] for p in node_pushes
                   if not p.get("snapshot") and (s := p["seq"]) in tail)  # the same messages
        assert {p["seq"] for p in node_pushes if not p.get("snapshot")} <= set(tail) | {
            p["seq"] for p in pushes if p.get("snapshot")} | set(range(min(tail, default=0)))
    # resume on the other relay within the epoch: a replay, not a snapshot
    client, book, reply = relayed[0]
    last = book.seq
    await client.close()
    await churn(trader, "away", 10)
    await settle(publisher, relays[1:], exchange.gateway.feeds.channels[DEPTH].seq)
    other = await Client.connect(f"ws://127.0.0.1:{relays[1].port}/")
    resumed = await other.request("subscribe", channels=[DEPTH], resume={DEPTH: last},
                                  epoch=reply["epoch"])
    assert resumed["subscribed"][DEPTH]["resumed"] is True
    replay = other.drain(DEPTH)
    assert [p["seq"] for p in replay] == list(range(last + 1, resumed["subscribed"][DEPTH]["seq"]
                                                    + 1))
    for push in replay:
        book.apply(push)
    apply_all(node_client, node_book)
    assert (book.bids, book.asks) == (node_book.bids, node_book.asks)
    refused = await other.call("place", {"symbol": "RELIANCE"})
    assert refused["error"]["code"] == "UNKNOWN_OP"
    for c in (node_client, trader, other, relayed[1][0]):
        await c.close()


async def test_messages_lost_upstream_arrive_as_a_snapshot(
        exchange: Exchange, fanout: tuple[FanoutPublisher, CuttableProxy, list[Relay]]) -> None:
    publisher, proxy, relays = fanout
    trader = await exchange.client(exchange.alice)
    await churn(trader, "warm", 4)
    await asyncio.sleep(1.2)
    client, book, _ = await follow(f"ws://127.0.0.1:{relays[0].port}/")
    node_client, node_book, _ = await follow(exchange.url)
    proxy.cut()
    await churn(trader, "lost", 20)  # trading goes on; the publisher drops these
    for _ in range(500):
        if publisher.stats.dropped:
            break
        await asyncio.sleep(0.02)
    assert publisher.stats.dropped > 0
    proxy.restore()
    await churn(trader, "after", 6)
    final = exchange.gateway.feeds.channels[DEPTH].seq
    await settle(publisher, relays[:1], final)
    for _ in range(200):  # the snapshot that repairs the gap comes within a second or two
        await asyncio.sleep(0.02)
        apply_all(client, book)
        if book.seq == final:
            break
    apply_all(node_client, node_book)
    assert book.seq == final
    assert (book.bids, book.asks) == (node_book.bids, node_book.asks)
    for c in (client, node_client, trader):
        await c.close()
