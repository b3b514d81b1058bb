"""Logging in, scopes, and bad input: every mistake gets its documented error and the
connection stays usable."""

from __future__ import annotations

import time

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from accounts.keys import sign
from gateway.client import ClientError
from tests.gateway.conftest import Exchange, http_get


async def error_of(call) -> str:
    with pytest.raises(ClientError) as info:
        await call
    return info.value.code


async def test_login_and_what_it_unlocks(exchange: Exchange) -> None:
    client = await exchange.client()
    try:
        assert await error_of(client.request("funds")) == "NOT_LOGGED_IN"
        assert await error_of(client.request("subscribe", channels=["orders"])) == (
            "NOT_LOGGED_IN")
        me = await client.login(exchange.alice.key_id, exchange.alice.secret)
        assert me == {"account": exchange.alice.account, "name": "alice",
                      "scopes": ["read", "trade"]}
        funds = await client.request("funds")
        assert funds["cash"] == 10_00_000 * 100
        assert await error_of(client.login(exchange.alice.key_id, exchange.alice.secret)) == (
            "ALREADY_LOGGED_IN")
    finally:
        await client.close()


async def test_signatures_must_be_right_fresh_and_unused(exchange: Exchange) -> None:
    key, secret = exchange.alice.key_id, exchange.alice.secret
    client = await exchange.client()
    try:
        now = time.time_ns() // 1_000_000

        def args(ts: int = now, nonce: str = "nonce-0001", secret: str = secret,
                 key_id: str = key) -> dict:
            return {"key_id": key_id, "timestamp": ts, "nonce": nonce,
                    "signature": sign(secret, key_id, ts, nonce)}

        assert await error_of(client.request("login", **args(secret="wrong"))) == (
            "BAD_SIGNATURE")
        stale = now - 10 * 60_000
        assert await error_of(client.request("login", **args(ts=stale))) == "STALE_SIGNATURE"
        # Inside the window but signed before this server started: its nonce may have been
        # used before a restart, which nobody remembers.
        before_start = exchange.gateway.auth.started_ms - 1
        assert await error_of(client.request("login", **args(ts=before_start))) == (
            "STALE_SIGNATURE")
        assert await error_of(client.request("login", **args(key_id="gwk_" + "0" * 24))) == (
            "UNKNOWN_KEY")
        assert await error_of(client.request("login", **args(nonce="short"))) == (
            "INVALID_ARGS")
        first = await client.request("login", **args())
        assert first["account"] == exchange.alice.account
        other = await exchange.client()
        try:
            assert await error_of(other.request("login", **args())) == "REPLAYED_NONCE"
        finally:
            await other.close()
    finally:
        await client.close()


async def test_scopes_are_enforced_per_message(exchange: Exchange) -> None:
    viewer = await exchange.client(exchange.viewer)
    try:
        funds = await viewer.request("funds")
        assert funds["account"] == exchange.alice.account
        place = viewer.request("place", symbol="RELIANCE", side="buy", qty=1, price=141_000,
                               client_order_id="v1")
        assert await error_of(place) == "SCOPE_DENIED"
    finally:
        await viewer.close()


async def test_bad_input_gets_clear_errors_and_the_connection_survives(
        exchange: Exchange) -> None:
    client = await exchange.client(exchange.alice)
    try:
        async def raw(frame: str | bytes) -> dict:
            await client.send_raw(frame)
            return await client.next_push("unmatched_reply")

        assert (await raw("{not json"))["data"]["error"]["code"] == "MALFORMED_FRAME"
        assert (await raw("[1,2,3]"))["data"]["error"]["code"] == "MALFORMED_FRAME"
        reply = (await raw('{"id": 77, "op": 5}'))["data"]
        assert (reply["id"], reply["error"]["code"]) == (77, "MALFORMED_FRAME")
        big = msgspec.json.encode({"id": 1, "op": "ping", "args": {"x": "a" * 70_000}})
        assert (await raw(big.decode()))["data"]["error"]["code"] == "FRAME_TOO_LARGE"

        reply = await client.call("teleport", {})
        assert (reply["ok"], reply["error"]["code"]) == (False, "UNKNOWN_OP")
        order = {"symbol": "RELIANCE", "side": "buy", "qty": 1, "price": 141_000,
                 "client_order_id": "x1"}
        cases = {
            "INVALID_ARGS": {**order, "qty": "ten"},
            "PRICE_OFF_TICK": {**order, "price": 141_001, "client_order_id": "x2"},
            "UNKNOWN_SYMBOL": {**order, "symbol": "NOPE", "client_order_id": "x3"},
            "PRICE_OUTSIDE_BAND": {**order, "price": 999_995, "client_order_id": "x4"},
        }
        for code, args in cases.items():
            assert (await client.call("place", args))["error"]["code"] == code, code
        missing_id = {k: v for k, v in order.items() if k != "client_order_id"}
        assert (await client.call("place", missing_id))["error"]["code"] == "INVALID_ARGS"
        float_price = {**order, "price": 1412.30, "client_order_id": "x5"}
        assert (await client.call("place", float_price))["error"]["code"] == "INVALID_ARGS"
        rejected = (await client.call("place", cases["PRICE_OFF_TICK"]))["error"]
        assert rejected["number"] == 3020  # the id was consumed by the first try
        assert (await client.request("ping"))["seq"] > 0
    finally:
        await client.close()


async def test_http_endpoints_share_the_port(exchange: Exchange) -> None:
    async def get(path: str, headers: dict | None = None) -> tuple[int, bytes]:
        status, _, body = await http_get(exchange.gateway.port, path, {"Host": "x",
                                                                        **(headers or {})})
        return status, body

    status, body = await get("/healthz")
    assert status == 200
    assert (await get("/healthz", {"Origin": "https://evil.example"}))[0] == 403
    assert msgspec.json.decode(body)["status"] == "ok"
    status, body = await get("/metrics")
    assert status == 200
    assert b"# TYPE gridworks_ws_connections gauge" in body
    status, body = await get("/status")
    assert status == 200
    gateway = msgspec.json.decode(body)["gateway"]
    assert gateway["epoch"] == exchange.gateway.epoch
    assert gateway["connections"] == len(exchange.gateway.connections)
    assert (await get("/nope"))[0] == 404
    with pytest.raises(InvalidStatus) as refused:
        await connect(exchange.url, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    # A page this server served may connect (its origin is the host it asked).
    same = await connect(exchange.url, origin=f"http://127.0.0.1:{exchange.gateway.port}")
    await same.close()
    rebound = {"Origin": "http://attacker.example:80", "Host": "attacker.example:80"}
    assert (await get("/healthz", rebound))[0] == 403, "a name pointed here is not us"


async def test_edge_cases_get_their_own_errors(exchange: Exchange) -> None:
    packed = await exchange.client(exchange.alice, fmt="msgpack")
    client = await exchange.client()
    try:
        await packed.send_raw('{"id": 1, "op": "ping"}')  # text on a binary connection
        reply = (await packed.next_push("unmatched_reply"))["data"]
        assert reply["error"]["code"] == "MALFORMED_FRAME"
        assert (await packed.request("ping"))["seq"] > 0

        now = int(time.time() * 1000)
        login = {"key_id": exchange.bob.key_id, "timestamp": now, "nonce": "nonascii-1",
                 "signature": "é" * 64}
        assert (await client.call("login", login))["error"]["code"] == "BAD_SIGNATURE"

        order = {"symbol": "RELIANCE", "side": "buy", "qty": 1, "price": 140_000}
        bad_id = await packed.call("place", {**order, "client_order_id": "a1\n"})
        assert bad_id["error"]["code"] == "INVALID_ARGS"
        first = await packed.request("place", **order, client_order_id="dup-1")
        again = await packed.call("place", {**order, "client_order_id": "dup-1"})
        assert again["error"]["code"] == "DUPLICATE_CLIENT_ORDER_ID"
        found = await packed.request("order", client_order_id="dup-1")
        assert (found["order_id"], found["status"]) == (first["order_id"], "OPEN")
    finally:
        await packed.close()
        await client.close()


async def test_an_array_frame_is_a_batch_of_requests(exchange: Exchange) -> None:
    client = await exchange.client(exchange.alice)
    try:
        order = {"symbol": "RELIANCE", "side": "buy", "qty": 1, "price": 140_000}
        batch = [{"id": f"b{i}", "op": "place", "args": {**order, "client_order_id": f"bt-{i}"}}
                 for i in range(3)]
        batch.append({"id": "p", "op": "ping", "args": {}})
        replies = await client.call_batch(batch)
        assert [r["id"] for r in replies] == ["p", "b0", "b1", "b2"]  # ping is not durable
        assert all(r["ok"] for r in replies)
        orders = await client.request("orders")
        assert [o["client_order_id"] for o in orders] == ["bt-0", "bt-1", "bt-2"]
        for frame in ("[]", msgspec.json.encode([batch[3]] * 101).decode()):
            await client.send_raw(frame)
            reply = (await client.next_push("unmatched_reply"))["data"]
            assert reply["error"]["code"] == "MALFORMED_FRAME"
    finally:
        await client.close()
