"""The REST API's history endpoints over a projected market: what the queries return, signed
and enveloped, paged by the same cursors."""

from __future__ import annotations

import time

import asyncpg
import httpx
import pytest

from accounts import keys
from accounts.registry import Scope
from gateway.limits import LocalKeyLimiter
from gateway.rest.app import RestServer
from gateway.server import Gateway, GatewayConfig
from gridworks.admin import Admin
from store import history
from tests.store.market import Market

pytestmark = pytest.mark.timeout(180)


async def test_history_over_rest(market: Market, pg_dsn: str) -> None:
    node = market.node
    await market.project(pg_dsn, 1_500)
    conn = await asyncpg.connect(pg_dsn)
    assert node.core is not None
    registered = list(node.core.registry.accounts)  # keys need a registered account
    account = await conn.fetchval("SELECT account FROM trading.fills WHERE account = ANY($1) "
                                  "GROUP BY account ORDER BY count(*) DESC LIMIT 1", registered)
    key = await Admin(node, node.kek).new_key(account, Scope.READ)
    gateway = Gateway(node, node.kek, GatewayConfig(port=0))
    pool = await asyncpg.create_pool(pg_dsn, min_size=0, max_size=2)
    server = RestServer(gateway, LocalKeyLimiter(1_000, 2_000), pool, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            async def get(target: str) -> dict:
                headers = keys.request_headers(key.key_id, key.secret, "GET", target)
                response = await http.get(f"http://127.0.0.1:{server.port}{target}",
                                          headers=headers)
                assert response.status_code == 200, response.text
                return response.json()["data"]

            first = await get("/trades?limit=5")
            direct = await history.trades(conn, account, limit=5)
            assert first["items"] == direct.items
            second = await get(f"/trades?limit=5&cursor={first['next']}")
            assert second["items"] == (await history.trades(conn, account, limit=5,
                                                            cursor=direct.next)).items
            statement = await get("/ledger?limit=1000")
            assert statement["entries"][-1]["balance"] == (
                await history.statement(conn, account, limit=1000))["entries"][-1]["balance"]
            orders = await get("/history/orders?limit=3")
            assert len(orders["items"]) == 3
            some = orders["items"][0]["order_id"]
            changes = await get(f"/orders/{some}/history")
            assert changes == await history.order_history(conn, account, some)
            assert await get(f"/portfolio/positions/at?ts={time.time_ns()}") == (
                await history.positions_at(conn, account, time.time_ns()))
            bad = await http.get(f"http://127.0.0.1:{server.port}/trades?cursor=nope",
                                 headers=keys.request_headers(key.key_id, key.secret, "GET",
                                                              "/trades?cursor=nope"))
            assert (bad.status_code, bad.json()["code"]) == (400, "INVALID_ARGS")
    finally:
        await server.stop()
        await pool.close()
        await conn.close()
