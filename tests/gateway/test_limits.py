"""Connection limits, subscription limits, revoked keys, the shutdown notice, and a fuzzer:
thousands of random frames on one session while another keeps trading lose nothing."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from accounts.keys import login_args
from accounts.registry import Scope
from engine.recovery import recover
from gateway.client import Client, ClientError
from gateway.limits import Limits
from gateway.server import CLOSE_LIMIT, CLOSE_RESTART, CLOSE_REVOKED
from gridworks.config import core_config
from tests.gateway.conftest import RUPEE, Exchange
from tests.gateway.test_trading import SYMBOL, order

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def limits() -> Limits:
    return Limits(heartbeat_s=5, max_subscriptions=3, connections_per_ip=6,
                  connections_per_key=2, messages_per_s=100_000, key_messages_per_s=100_000)


async def closed_with(ws: Any) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)
    return ws.close_code, ws.close_reason


async def test_subscriptions_per_connection_are_limited(exchange: Exchange) -> None:
    client = await exchange.client()
    try:
        three = [f"ticker.{SYMBOL}", f"trades.{SYMBOL}", f"depth.{SYMBOL}"]
        assert len((await client.request("subscribe", channels=three))["subscribed"]) == 3
        with pytest.raises(ClientError) as refused:
            await client.request("subscribe", channels=[f"candles.{SYMBOL}.1m"])
        assert refused.value.code == "TOO_MANY_SUBSCRIPTIONS"
        await client.request("unsubscribe", channels=[f"trades.{SYMBOL}"])
        await client.request("subscribe", channels=[f"candles.{SYMBOL}.1m"])
    finally:
        await client.close()


async def test_connections_per_address_are_limited(exchange: Exchange) -> None:
    held = [await connect(exchange.url) for _ in range(6)]
    try:
        extra = await connect(exchange.url)
        assert await closed_with(extra) == (CLOSE_LIMIT, "TOO_MANY_CONNECTIONS")
        await held.pop().close()
        await asyncio.sleep(0.05)
        again = await exchange.client()
        assert (await again.request("ping"))["seq"] > 0
        await again.close()
    finally:
        for ws in held:
            await ws.close()


async def test_connections_per_key_are_limited(exchange: Exchange) -> None:
    first = await exchange.client(exchange.alice)
    second = await exchange.client(exchange.alice)
    third = await exchange.client()
    try:
        with pytest.raises(ClientError) as refused:
            await third.login(exchange.alice.key_id, exchange.alice.secret)
        assert refused.value.code == "TOO_MANY_CONNECTIONS"
        assert (await third.request("ping"))["seq"] > 0  # still connected, anonymously
        await first.close()
        await asyncio.sleep(0.05)
        await third.login(exchange.alice.key_id, exchange.alice.secret)
        assert (await third.request("funds"))["cash"] > 0
    finally:
        for client in (second, third):
            await client.close()


async def test_a_revoked_key_is_logged_out(exchange: Exchange) -> None:
    key = await exchange.admin.new_key(exchange.bob.account, Scope.READ | Scope.TRADE, "bot")
    client = await exchange.client(key)
    other = await exchange.client(exchange.bob)
    try:
        await exchange.admin.revoke_key(exchange.bob.account, key.key_id)
        notice = await client.next_push("system")
        assert notice["data"] == {"logout": "API_KEY_REVOKED"}
        assert await closed_with(client.ws) == (CLOSE_REVOKED, "API_KEY_REVOKED")
        assert (await other.request("funds"))["cash"] > 0  # the account's other key works
        again = await exchange.client()
        with pytest.raises(ClientError) as refused:
            await again.login(key.key_id, key.secret)
        assert refused.value.code == "UNKNOWN_KEY"
        await again.close()
    finally:
        await other.close()


async def test_a_shutdown_notice_comes_before_the_close(exchange: Exchange) -> None:
    client = await exchange.client()
    await exchange.gateway.stop(reconnect_after_ms=250)
    notice = await client.next_push("system")
    assert notice["data"] == {"shutdown": {"reconnect_after_ms": 250}}
    assert (await closed_with(client.ws))[0] == CLOSE_RESTART


# --- the fuzzer ----------------------------------------------------------------------------

OPS = ["login", "ping", "time", "instruments", "subscribe", "unsubscribe", "place", "amend",
       "cancel", "cancel_all", "order", "orders", "positions", "funds", "nope", ""]


def junk(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "big", "float", "str", "bool", "none"] + (["list", "dict"] if depth < 3
                                                           else [])
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 1, 5, 141_300, 2**31, 2**40, 2**53 - 1, -(2**63)])
    if kind == "big":
        return rng.choice([2**64, -(2**64) - 1, 10**30])
    if kind == "float":
        return rng.choice([0.5, -1e308, 1413.05, float("nan")])
    if kind == "str":
        return rng.choice(["", "RELIANCE", "buy", "sell", "x" * rng.randint(1, 300), "\u0000",
                           "🙂", "orders", "depth.RELIANCE", "candles.RELIANCE.7m"])
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "list":
        return [junk(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {rng.choice(["symbol", "qty", "price", "side", "channels", "order_id", "a", ""]):
            junk(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def mutated_order(rng: random.Random, n: int) -> dict:
    args: dict[str, Any] = order(f"fz{n}", rng.choice(["buy", "sell"]), rng.randint(1, 5),
                                 141_000 + 5 * rng.randint(-40, 40),
                                 tif=rng.choice(["day", "ioc", "fok", "gtc"]),
                                 type=rng.choice(["limit", "limit", "market", "sl", "sl-m"]),
                                 product=rng.choice(["cnc", "mis", "nrml"]))
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        args[rng.choice([*args, "extra"])] = junk(rng)
    return args


def packable(value: Any) -> Any:
    """msgpack holds integers of 64 bits: larger ones travel as floats."""
    if isinstance(value, dict):
        return {k: packable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [packable(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not (
            -(2**63) <= value < 2**64):
        return float(value)
    return value


def frame(rng: random.Random, n: int, fmt: str = "json") -> str | bytes:
    roll = rng.random()
    if roll < 0.1:
        return rng.randbytes(rng.randint(0, 200))
    if roll < 0.2:
        return "".join(chr(rng.randint(1, 0x2FF)) for _ in range(rng.randint(0, 80)))
    request = {"id": junk(rng) if rng.random() < 0.2 else n, "op": rng.choice(OPS),
               "args": junk(rng) if rng.random() < 0.2 else {"symbol": SYMBOL}}
    if rng.random() < 0.35:
        request = {"id": n, "op": rng.choice(["place", "amend", "cancel"]),
                   "args": mutated_order(rng, n)}
    if fmt == "msgpack":
        packed = msgspec.msgpack.encode(packable(request), enc_hook=str)
        return packed[: rng.randint(0, len(packed))] if rng.random() < 0.1 else packed
    text = msgspec.json.encode(request, enc_hook=str).decode()
    if rng.random() < 0.1:
        text = text[: rng.randint(0, len(text))]
    return text


async def trade_steadily(client: Client, rounds: int) -> int:
    for i in range(rounds):
        placed = await client.request("place", **order(f"steady-{i}", "buy", 1, 127_500))
        if placed["leaves"]:  # unless the fuzzer happened to sell into it
            cancelled = await client.request("cancel", order_id=placed["order_id"])
            assert cancelled["status"] == "CANCELLED"
    return rounds


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
async def test_random_frames_lose_nothing(exchange: Exchange, fmt: str) -> None:
    _, carol = await exchange.admin.create_account("carol", 10_00_000 * RUPEE)
    rng = random.Random(20261125)
    decode = msgspec.json.decode if fmt == "json" else msgspec.msgpack.decode
    url = exchange.url if fmt == "json" else exchange.url + "?format=msgpack"
    fuzzer = await connect(url, max_size=None, close_timeout=1)
    trader = await exchange.client(exchange.alice)
    try:
        now = await Client.connect(exchange.url)
        await now.login(carol.key_id, carol.secret)  # carol's second key slot stays free
        await now.close()
        frames = [frame(rng, n, fmt) for n in range(3_000)]
        outcomes: Counter[str] = Counter()

        async def read_replies() -> None:
            async for message in fuzzer:
                items = decode(message)
                for item in items if isinstance(items, list) else [items]:
                    if "ok" in item:
                        outcomes["ok" if item["ok"] else item["error"]["code"]] += 1

        reader = asyncio.create_task(read_replies())
        steady = asyncio.create_task(trade_steadily(trader, 100))
        login = {"id": "login", "op": "login", "args": login_args(carol.key_id, carol.secret)}
        await fuzzer.send(msgspec.json.encode(login).decode() if fmt == "json"
                          else msgspec.msgpack.encode(login))
        for n, f in enumerate(frames):
            await fuzzer.send(f)
            if n % 100 == 0:
                await asyncio.sleep(0)  # let the steady trader interleave
        assert await asyncio.wait_for(steady, 60) == 100
        for _ in range(500):
            if outcomes.total() == len(frames) + 1:
                break
            await asyncio.sleep(0.02)
        assert outcomes.total() == len(frames) + 1, "every frame gets exactly one reply"
        assert "INTERNAL_ERROR" not in outcomes
        assert "OUTCOME_UNKNOWN" not in outcomes
        assert outcomes["ok"] > 100, "some of the noise was valid and was carried out"
        assert {"MALFORMED_FRAME", "INVALID_ARGS", "UNKNOWN_OP"} <= set(outcomes)
        assert fuzzer.close_code is None, "the fuzzer's connection survived"
        assert (await trader.request("orders")) == []
        reader.cancel()
    finally:
        await fuzzer.close()
        await trader.close()

    # Everything accepted was journaled: a fresh recovery reaches the same state.
    live = exchange.node.core
    assert live is not None
    await exchange.gateway.stop()
    await exchange.node.stop(snapshot_now=False)
    recovered, _ = recover(exchange.node.config.data_dir, core_config(exchange.node.config))
    assert recovered.state_hash() == live.state_hash()


async def test_a_full_backlog_sheds_trading_requests_without_losing_any(
        exchange: Exchange) -> None:
    object.__setattr__(exchange.gateway.config.limits, "max_backlog", 2)
    trader = await exchange.client(exchange.alice)
    try:
        batch = [{"id": i, "op": "place", "args": order(f"bl-{i}", "buy", 1, 127_500)}
                 for i in range(6)]
        replies = {r["id"]: r for r in await trader.call_batch(batch)}
        busy = [i for i, r in replies.items() if not r["ok"]]
        assert busy
        assert {replies[i]["error"]["code"] for i in busy} == {"SERVER_BUSY"}
        accepted = {f"bl-{i}" for i, r in replies.items() if r["ok"]}
        assert accepted
        assert {o["client_order_id"] for o in await trader.request("orders")} == accepted
        retried = await trader.request("place", **order(f"bl-{busy[0]}", "buy", 1, 127_500))
        assert retried["status"] == "OPEN"  # the refused id was never used
    finally:
        await trader.close()


async def test_connections_that_come_and_go_leave_nothing_behind(exchange: Exchange) -> None:
    channels = [f"depth.{SYMBOL}", "orders", "funds"]  # three: this module's limit
    for round_ in range(30):
        client = await exchange.client(exchange.alice if round_ % 2 else None)
        wanted = channels if round_ % 2 else [f"depth.{SYMBOL}", f"ticker.{SYMBOL}"]
        await client.request("subscribe", channels=wanted)
        if round_ % 3 == 0:
            client.ws.transport.abort()  # gone without a close handshake
        else:
            await client.close()
    for _ in range(100):
        if not exchange.gateway.connections:
            break
        await asyncio.sleep(0.02)
    gateway = exchange.gateway
    assert not gateway.connections
    assert all(not c.subscribers for c in gateway.feeds.channels.values())
    assert sum(gateway._by_ip.values()) == 0
    assert sum(gateway._by_key.values()) == 0
    again = await exchange.client(exchange.alice)  # the limits were given back
    assert (await again.request("ping"))["seq"] > 0
    await again.close()
