"""History pages through a REST router, against the real PostgreSQL: two REST servers over
one projected market, one standing for shard 0 and one for shard 1, so that through the
router every row of the account comes once from each "shard". Paging to the end under the
router's cursor must give exactly the rows of both, interleaved by time (the reference is a
plain sort), and the statement's balance must be the two shards' balances together."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from accounts import keys
from accounts.registry import Scope
from gateway.limits import LocalKeyLimiter
from gateway.rest.app import RestServer
from gateway.rest_router import RestRouter
from gateway.routing import Directory
from gateway.server import Gateway, GatewayConfig
from gridworks.admin import Admin
from store import history
from tests.store.market import Market

pytestmark = pytest.mark.timeout(180)


async def test_history_pages_merge_across_shards(market: Market, pg_dsn: str) -> None:
    node = market.node
    await market.project(pg_dsn, 1_200)
    conn = await asyncpg.connect(pg_dsn)
    assert node.core is not None
    registered = list(node.core.registry.accounts)
    account = await conn.fetchval("SELECT account FROM trading.fills WHERE account = ANY($1) "
                                  "GROUP BY account ORDER BY count(*) DESC LIMIT 1", registered)
    key = await Admin(node, node.kek).new_key(account, Scope.READ)
    pool = await asyncpg.create_pool(pg_dsn, min_size=0, max_size=4)
    servers = [RestServer(Gateway(node, node.kek, GatewayConfig(port=0, shard=shard)),
                          LocalKeyLimiter(10_000, 20_000), pool, "127.0.0.1", 0)
               for shard in (0, 1)]
    for server in servers:
        await server.start()
    directory = Directory([0, 1])
    for shard in (0, 1):
        directory.learn(shard, [s.symbol for s in node.core.specs], 1)
    router = RestRouter({k: [f"http://127.0.0.1:{s.port}/"] for k, s in enumerate(servers)},
                        directory, port=0)
    await router.start()
    try:
        async with httpx.AsyncClient() as http:
            async def get(target: str) -> httpx.Response:
                headers = keys.request_headers(key.key_id, key.secret, "GET", target)
                return await http.get(f"http://127.0.0.1:{router.port}{target}",
                                      headers=headers)

            async def every_page(path: str, limit: int, field: str) -> list[dict]:
                rows: list[dict] = []
                cursor = None
                while True:
                    target = f"{path}?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
                    reply = await get(target)
                    assert reply.status_code == 200, reply.text
                    data = reply.json()["data"]
                    assert len(data[field]) <= limit
                    rows += data[field]
                    cursor = data["next"]
                    if cursor is None:
                        return rows

            trades = (await history.trades(conn, account, limit=1_000)).items
            assert len(trades) > 20
            paged = await every_page("/trades", 7, "items")
            expected = sorted((-t["ts"], shard, -t["seq"], -t["trade_id"], -t["order_id"])
                               for t in trades for shard in (0, 1))
            assert [(-r["ts"], r["shard"], -r["seq"], -r["trade_id"], -r["order_id"])
                    for r in paged] == expected

            orders = (await history.orders(conn, account, limit=1_000)).items
            paged_orders = await every_page("/history/orders", 9, "items")
            for shard in (0, 1):  # each shard's rows in its own order (the core's own
                # square-off orders have ids above the rest, so not in time order)
                assert [r["order_id"] for r in paged_orders if r["shard"] == shard] == [
                    o["order_id"] for o in orders]

            statement = await history.statement(conn, account, limit=1_000)
            entries = await every_page("/ledger", 11, "entries")
            assert len(entries) == 2 * len(statement["entries"])
            assert [e["ts"] for e in entries] == sorted(e["ts"] for e in entries)
            opening = (await get("/ledger?limit=5")).json()["data"]["opening_balance"]
            assert opening == 2 * statement["opening_balance"]
            final = statement["entries"][-1]["balance"]
            assert entries[-1]["balance"] == 2 * final
            assert entries[-1]["shard_balance"] == final
            running = 2 * statement["opening_balance"]
            for entry in entries:  # each entry moves the total by its own change
                running += entry["change"]
                assert entry["balance"] == running

            forged = await get("/trades?cursor=0_1")
            assert (forged.status_code, forged.json()["code"]) == (400, "INVALID_ARGS")
            replay = keys.request_headers(key.key_id, key.secret, "GET", "/trades?limit=1")
            first = await http.get(f"http://127.0.0.1:{router.port}/trades?limit=1",
                                   headers=replay)
            again = await http.get(f"http://127.0.0.1:{router.port}/trades?limit=1",
                                   headers=replay)
            assert first.status_code == 200
            assert (again.status_code, again.json()["code"]) == (401, "REPLAYED_NONCE")
    finally:
        await router.stop()
        for server in servers:
            await server.stop()
        await pool.close()
        await conn.close()
