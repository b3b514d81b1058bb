"""The REST API of a cluster through one router, over a cluster of processes: two shards
(RELIANCE on shard 0, TCS on shard 1), each with an engine and two gateways, and a router.
One account and key on both shards. Signed orders go to the shard owning their symbol;
modify, cancel and look-ups to the shard their id names; the account's funds, positions and
orders come back merged; a password login through the router gives one token pair that
works on every shard, rotates, and refuses reuse; what the router does not route, or cannot
reach, gets its documented code; a gateway killed behind the router is passed over."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from accounts import keys
from engine.sequencer import order_shard
from gridworks.cluster import ClusterPlan, LocalCluster
from tests.cluster.conftest import shared_account
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(180)
PRICES = {"RELIANCE": 141_000, "TCS": 305_000}
FUNDS = 5_00_000_00


class Rest:
    """A REST client of the router: signed with a key, or with a bearer token."""

    def __init__(self, http: httpx.AsyncClient, base: str, key: tuple[str, str]) -> None:
        self.http, self.base, self.key = http, base, key

    async def call(self, method: str, target: str, body: object = None,
                   token: str | None = None) -> httpx.Response:
        content = json.dumps(body).encode() if body is not None else b""
        headers = ({"Authorization": f"Bearer {token}"} if token else
                   keys.request_headers(*self.key, method, target, content))
        if body is not None:
            headers["Content-Type"] = "application/json"
        return await self.http.request(method, self.base + target, content=content,
                                       headers=headers)

    async def data(self, method: str, target: str, body: object = None,
                   token: str | None = None) -> object:
        reply = await self.call(method, target, body, token)
        assert reply.status_code == 200, reply.text
        assert reply.json()["status"] == "success"
        return reply.json()["data"]


def order(symbol: str, side: str, cid: str, qty: int = 1) -> dict:
    return {"symbol": symbol, "side": side, "qty": qty, "price": PRICES[symbol],
            "client_order_id": cid}


async def test_rest_through_a_router(broker: str, redis_prefix: str, kafka_prefix: str,
                                     tmp_path: Path) -> None:
    plan = ClusterPlan(kafka=broker, redis=REDIS, shards=2, engines_per_shard=1,
                       routers=1, redis_prefix=redis_prefix, kafka_prefix=kafka_prefix,
                       kafka_idempotent=False, env={"GRIDWORKS_FETCH_WAIT_MS": "5"})
    cluster = LocalCluster(tmp_path, plan)
    desk = None
    try:
        cluster.start()
        (router,) = cluster.routers()
        desk, bob_id, bob = await shared_account(cluster, "bob", FUNDS)
        await desk.set_user("bob", bob_id, "trader", "correct horse battery")
        demo = cluster.credentials("demo")
        async with httpx.AsyncClient(timeout=20) as http:
            base = f"http://127.0.0.1:{router.rest_port}"
            alice = Rest(http, base, (demo["key_id"], demo["secret"]))
            seller = Rest(http, base, (bob.key_id, bob.secret))

            symbols = [i["symbol"] for i in await alice.data("GET", "/instruments")]  # type: ignore[union-attr]
            assert {"RELIANCE", "TCS"} <= set(symbols)
            assert len(symbols) == len(set(symbols))  # each shard's own, once

            # Orders go to the shard owning their symbol; their ids name it.
            placed = {s: await alice.data("POST", "/orders", order(s, "buy", f"a-{s}", 3))
                      for s in PRICES}
            ids = {s: p["order_id"] for s, p in placed.items()}  # type: ignore[index]
            assert order_shard(ids["RELIANCE"]) == 0
            assert order_shard(ids["TCS"]) == 1
            listed = await alice.data("GET", "/orders")
            assert sorted(o["symbol"] for o in listed) == ["RELIANCE", "TCS"]  # type: ignore[union-attr]
            one = await alice.data("GET", f"/orders/{ids['TCS']}")
            assert one["client_order_id"] == "a-TCS"  # type: ignore[index]
            amended = await alice.data("PUT", f"/orders/{ids['TCS']}", {"qty": 4})
            assert amended["status"] == "AMENDED", amended  # type: ignore[index]
            assert (await alice.data("GET", f"/orders/{ids['TCS']}"))["qty"] == 4  # type: ignore[index]
            cancelled = await alice.data("DELETE", f"/orders/{ids['RELIANCE']}")
            assert cancelled["status"] == "CANCELLED"  # type: ignore[index]

            # Bob sells into TCS; each side's positions and funds come merged.
            await seller.data("POST", "/orders", order("TCS", "sell", "b-TCS", 2))
            await asyncio.sleep(0.3)
            positions = await alice.data("GET", "/portfolio/positions")
            nets = {p["symbol"]: p["net"] for p in positions["positions"]}  # type: ignore[index]
            assert nets == {"RELIANCE": 0, "TCS": 2}  # the cancelled order's row, and the fill
            funds = await alice.data("GET", "/user/margins")
            assert sorted(funds["shards"]) == ["0", "1"]  # type: ignore[index]
            assert funds["cash"] == sum(f["cash"] for f in funds["shards"].values())  # type: ignore[index]
            profile = await alice.data("GET", "/user/profile")
            assert profile["key_id"] == demo["key_id"]  # type: ignore[index]

            # One password login for every shard; the token pair rotates and reuse is refused.
            login = await seller.data("POST", "/session/token",
                                      {"username": "bob", "password": "correct horse battery"})
            access, refresh = login["access_token"], login["refresh_token"]  # type: ignore[index]
            assert access.startswith("gwc~0:")
            assert "~1:" in access
            bobs = await seller.data("GET", "/user/margins", token=access)
            assert sorted(bobs["shards"]) == ["0", "1"]  # type: ignore[index]
            mine = await seller.data("GET", "/orders", token=access)
            assert [o["client_order_id"] for o in mine] == ["b-TCS"]  # type: ignore[union-attr]
            shard_gateway = cluster.gateways(0)[0]
            own = access.split("~")[1].partition(":")[2]
            direct = await http.get(f"http://127.0.0.1:{shard_gateway.rest_port}/user/margins",
                                    headers={"Authorization": f"Bearer {own}"})
            assert direct.status_code == 200  # each part is that shard's own token
            wrong = await seller.call("GET", "/user/margins", token=own)
            assert (wrong.status_code, wrong.json()["code"]) == (401, "TOKEN_INVALID")
            turned = await seller.data("POST", "/session/refresh", {"refresh_token": refresh})
            assert turned["refresh_token"] != refresh  # type: ignore[index]
            assert await seller.data("GET", "/user/margins", token=turned["access_token"])  # type: ignore[index]
            reused = await seller.call("POST", "/session/refresh", {"refresh_token": refresh})
            assert (reused.status_code, reused.json()["code"]) == (401, "REFRESH_REUSED")
            bad = await seller.call("POST", "/session/token",
                                    {"username": "bob", "password": "wrong"})
            assert (bad.status_code, bad.json()["code"]) == (401, "BAD_PASSWORD")

            # Clear refusals: not routed, unknown symbol or shard, a replayed signature.
            withdraw = await alice.call("POST", "/funds/withdraw", {"amount": 100})
            assert (withdraw.status_code, withdraw.json()["code"]) == (421, "NOT_ROUTED")
            board = await alice.call("GET", "/leaderboard")
            assert (board.status_code, board.json()["code"]) == (421, "NOT_ROUTED")
            unknown = await alice.call("POST", "/orders", {**order("TCS", "buy", "x"),
                                                           "symbol": "NOPE"})
            assert (unknown.status_code, unknown.json()["code"]) == (400, "UNKNOWN_SYMBOL")
            missing = await alice.call("GET", f"/orders/{7 * 10**12 + 1}")
            assert (missing.status_code, missing.json()["code"]) == (404, "ORDER_NOT_FOUND")
            history = await alice.call("GET", "/trades")  # the gateways have no PostgreSQL
            assert (history.status_code, history.json()["code"]) == (503, "HISTORY_UNAVAILABLE")
            signed = keys.request_headers(demo["key_id"], demo["secret"], "GET", "/orders")
            first = await http.get(base + "/orders", headers=signed)
            again = await http.get(base + "/orders", headers=signed)
            assert first.status_code == 200
            assert first.headers["content-length"] == str(len(first.content))  # not chunked
            assert (again.status_code, again.json()["code"]) == (401, "REPLAYED_NONCE")
            assert (await http.get(base + "/nowhere")).status_code == 404
            assert (await http.get(base + "/healthz")).status_code == 200

            # A gateway of shard 1 dies: the router passes over it to the other one.
            cluster.kill(cluster.gateways(1)[0])
            for k in range(4):
                again_placed = await alice.data("POST", "/orders",
                                                order("TCS", "buy", f"a-after-{k}"))
                assert order_shard(again_placed["order_id"]) == 1  # type: ignore[index]
    finally:
        if desk is not None:
            await desk.stop()
        cluster.stop()
