"""The REST API against a real node: signed requests, the same sequencer as the WebSocket
API, every documented error with its HTTP status, and every response checked against the
served OpenAPI document."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import jsonschema
import pytest

from accounts import keys
from accounts.registry import Scope
from gateway.limits import LocalKeyLimiter
from gateway.rest.app import RestServer
from gridworks.admin import Credentials
from tests.gateway.conftest import RUPEE, Exchange
from tests.gateway.test_trading import SYMBOL, order

pytestmark = pytest.mark.timeout(120)


@dataclass
class Rest:
    base: str
    http: httpx.AsyncClient
    document: dict[str, Any]
    checked: list[tuple[str, str, int]] = field(default_factory=list)

    async def call(self, method: str, path: str, who: Credentials | None = None,
                   body: object = None, headers: dict[str, str] | None = None,
                   sign_body: bytes | None = None) -> httpx.Response:
        content = b"" if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if who is not None:
            signed = content if sign_body is None else sign_body
            sent.update(keys.request_headers(who.key_id, who.secret, method, path, signed))
        if content:
            sent["content-type"] = "application/json"
        response = await self.http.request(method, self.base + path, content=content,
                                           headers=sent)
        self.conforms(method, path, response)
        return response

    def conforms(self, method: str, path: str, response: httpx.Response) -> None:
        """The response body fits the OpenAPI schema of its route and status (errors fit
        the error envelope)."""
        body = response.json()
        if response.status_code >= 400:
            assert body["status"] == "error"
            assert set(body) == {"status", "error_type", "message", "code", "number", "detail"}
            return
        template = self.route(path.partition("?")[0])
        responses = self.document["paths"][template][method.lower()]["responses"]
        schema = responses[str(response.status_code)]["content"]["application/json"]["schema"]
        jsonschema.validate(body, {**schema, "components": self.document["components"]})
        self.checked.append((method, template, response.status_code))

    def route(self, path: str) -> str:
        for template in self.document["paths"]:
            parts, actual = template.strip("/").split("/"), path.strip("/").split("/")
            if len(parts) == len(actual) and all(
                    p == a or p.startswith("{") for p, a in zip(parts, actual, strict=True)):
                return template
        raise AssertionError(f"{path} is not in the OpenAPI document")


@pytest.fixture
async def rest(exchange: Exchange) -> AsyncIterator[Rest]:
    server = RestServer(exchange.gateway, LocalKeyLimiter(100, 200), None, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            base = f"http://127.0.0.1:{server.port}"
            document = (await http.get(base + "/openapi.json")).json()
            yield Rest(base, http, document)
    finally:
        await server.stop()


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error_type"], body["code"]


async def test_the_document_describes_every_route(rest: Rest) -> None:
    assert rest.document["openapi"].startswith("3.1")
    paths = set(rest.document["paths"])
    assert {"/instruments", "/user/profile", "/user/margins", "/portfolio/positions",
            "/portfolio/holdings", "/orders", "/orders/{order_id}", "/trades", "/ledger",
            "/funds/withdraw", "/user/keys"} <= paths
    docs = await rest.http.get(rest.base + "/docs")
    assert docs.status_code == 200
    assert "html" in docs.headers["content-type"]


async def test_account_views(rest: Rest, exchange: Exchange) -> None:
    instruments = (await rest.call("GET", "/instruments")).json()["data"]
    assert instruments[0]["symbol"] == SYMBOL
    profile = (await rest.call("GET", "/user/profile", exchange.alice)).json()["data"]
    assert profile == {"account": exchange.alice.account, "name": "alice",
                       "key_id": exchange.alice.key_id, "scopes": ["read", "trade"]}
    funds = (await rest.call("GET", "/user/margins", exchange.alice)).json()["data"]
    assert funds["cash"] == 10_00_000 * RUPEE
    assert (await rest.call("GET", "/portfolio/positions", exchange.alice)).json()["data"] == {
        "positions": []}
    assert (await rest.call("GET", "/portfolio/holdings", exchange.alice)).json()["data"] == []
    listed = (await rest.call("GET", "/user/keys", exchange.alice)).json()["data"]
    assert {k["key_id"] for k in listed} == {exchange.alice.key_id, exchange.viewer.key_id}
    assert "secret" not in json.dumps(listed)


async def test_orders_go_through_the_same_sequencer(rest: Rest, exchange: Exchange) -> None:
    ws = await exchange.client(exchange.alice)
    await ws.request("subscribe", channels=["orders"])
    await ws.next_push("orders")  # the snapshot
    placed = await rest.call("POST", "/orders", exchange.alice,
                             order("rest-1", "buy", 5, 141_000))
    outcome = placed.json()["data"]
    assert outcome["status"] == "OPEN"
    pushed = await ws.next_push("orders")
    assert pushed["data"]["order_id"] == outcome["order_id"]
    assert pushed["data"]["client_order_id"] == "rest-1"
    # one namespace of client order ids for both APIs
    again = await ws.call("place", order("rest-1", "buy", 1, 141_000))
    assert again["error"]["code"] == "DUPLICATE_CLIENT_ORDER_ID"

    modified = await rest.call("PUT", f"/orders/{outcome['order_id']}", exchange.alice,
                               {"qty": 3, "price": 140_900})
    assert modified.json()["data"]["status"] == "AMENDED"
    one = (await rest.call("GET", f"/orders/{outcome['order_id']}", exchange.alice)).json()
    assert (one["data"]["qty"], one["data"]["price"]) == (3, 140_900)
    sold = await rest.call("POST", "/orders", exchange.bob,
                           order("b-1", "sell", 1, 140_900, tif="ioc"))
    assert sold.json()["data"]["status"] == "FILLED"
    cancelled = await rest.call("DELETE", f"/orders/{outcome['order_id']}", exchange.alice)
    assert cancelled.json()["data"] == {"order_id": outcome["order_id"], "status": "CANCELLED",
                                        "filled": 0, "leaves": 0, "cancelled": 2}
    listed = (await rest.call("GET", "/orders", exchange.alice)).json()["data"]
    assert [o["client_order_id"] for o in listed][:2] == ["rest-1", "rest-1"]  # newest first
    positions = (await rest.call("GET", "/portfolio/positions", exchange.alice)).json()["data"]
    assert positions["positions"][0]["net"] == 1
    await ws.close()


async def test_rejections_and_bad_input(rest: Rest, exchange: Exchange) -> None:
    off_tick = await rest.call("POST", "/orders", exchange.alice, order("x-1", "buy", 1, 141_001))
    assert error(off_tick) == (400, "OrderException", "PRICE_OFF_TICK")
    assert off_tick.json()["number"] == 3011
    broke = await rest.call("POST", "/orders", exchange.alice,
                            order("x-2", "buy", 10_000_000, 141_000))
    assert error(broke) == (400, "MarginException", "INSUFFICIENT_FUNDS")
    bad = await rest.call("POST", "/orders", exchange.alice, {**order("x-3", "buy", 1, 141_000),
                                                               "qty": 1.5})
    assert error(bad)[:2] == (400, "InputException")
    unknown = await rest.call("POST", "/orders", exchange.alice, order("x-4", "buy", 1, 141_000,
                                                                       symbol="NOPE"))
    assert error(unknown) == (400, "InputException", "UNKNOWN_SYMBOL")
    missing = await rest.call("GET", "/orders/999999", exchange.alice)
    assert error(missing) == (503, "DataException", "HISTORY_UNAVAILABLE")  # no PostgreSQL here
    nowhere = await rest.http.get(rest.base + "/nowhere")
    assert nowhere.status_code == 404
    assert nowhere.json()["status"] == "error"
    history = await rest.call("GET", "/trades", exchange.alice)
    assert error(history) == (503, "DataException", "HISTORY_UNAVAILABLE")


async def test_every_documented_auth_failure(rest: Rest, exchange: Exchange) -> None:
    unsigned = await rest.call("GET", "/user/profile")
    assert error(unsigned) == (401, "TokenException", "NOT_LOGGED_IN")
    wrong = await rest.call("GET", "/user/profile", Credentials(
        exchange.alice.account, "alice", exchange.alice.key_id, "not-the-secret", []))
    assert error(wrong) == (401, "TokenException", "BAD_SIGNATURE")
    tampered = await rest.call("POST", "/orders", exchange.alice, order("t-1", "buy", 1, 141_000),
                               sign_body=b"{}")
    assert error(tampered) == (401, "TokenException", "BAD_SIGNATURE")
    headers = keys.request_headers(exchange.alice.key_id, exchange.alice.secret, "GET",
                                   "/user/profile")
    stale = {**headers, "X-GW-Timestamp": str(time.time_ns() // 1_000_000 - 120_000)}
    assert error(await rest.call("GET", "/user/profile", headers=stale))[2] == "STALE_SIGNATURE"
    assert (await rest.call("GET", "/user/profile", headers=headers)).status_code == 200
    replayed = await rest.call("GET", "/user/profile", headers=headers)
    assert error(replayed) == (401, "TokenException", "REPLAYED_NONCE")
    unknown = await rest.call("GET", "/user/profile", Credentials(0, "", "gwk_" + "0" * 24,
                                                                  "x", []))
    assert error(unknown) == (401, "TokenException", "UNKNOWN_KEY")
    read_only = await rest.call("POST", "/orders", exchange.viewer,
                                order("v-1", "buy", 1, 141_000))
    assert error(read_only) == (403, "PermissionException", "SCOPE_DENIED")
    assert read_only.json()["detail"] == {"needs": "trade"}
    elsewhere = await exchange.admin.new_key(exchange.alice.account, Scope.READ, "office",
                                             ips=("10.1.0.0/16",))
    fenced = await rest.call("GET", "/user/profile", elsewhere)
    assert error(fenced) == (403, "PermissionException", "IP_NOT_ALLOWED")
    local = await exchange.admin.new_key(exchange.alice.account, Scope.READ, "here",
                                         ips=("127.0.0.0/8",))
    assert (await rest.call("GET", "/user/profile", local)).status_code == 200


async def test_withdrawals_need_their_scope(rest: Rest, exchange: Exchange) -> None:
    denied = await rest.call("POST", "/funds/withdraw", exchange.alice, {"amount": 100})
    assert error(denied) == (403, "PermissionException", "SCOPE_DENIED")
    payer = await exchange.admin.new_key(exchange.alice.account, Scope.READ | Scope.WITHDRAW)
    taken = await rest.call("POST", "/funds/withdraw", payer, {"amount": 1_000 * RUPEE})
    assert taken.json()["data"] == {"account": exchange.alice.account, "amount": 1_000 * RUPEE}
    funds = (await rest.call("GET", "/user/margins", payer)).json()["data"]
    assert funds["cash"] == (10_00_000 - 1_000) * RUPEE
    too_much = await rest.call("POST", "/funds/withdraw", payer, {"amount": 10**12})
    assert error(too_much) == (400, "MarginException", "WITHDRAWAL_EXCEEDS_FREE_CASH")


async def test_the_rate_limit_answers_429_with_retry_after(exchange: Exchange) -> None:
    server = RestServer(exchange.gateway, LocalKeyLimiter(1, 2), None, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            codes = []
            for _ in range(4):
                headers = keys.request_headers(exchange.alice.key_id, exchange.alice.secret,
                                               "GET", "/user/profile")
                response = await http.get(f"http://127.0.0.1:{server.port}/user/profile",
                                          headers=headers)
                codes.append(response.status_code)
            assert codes == [200, 200, 429, 429]
            assert response.headers["retry-after"] == "1"
            assert response.json()["code"] == "RATE_LIMITED"
    finally:
        await server.stop()
