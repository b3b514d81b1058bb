"""History queries on a projected random flow: keyset pages add up to the whole list with
nothing twice, the statement's balances chain and end at the core's cash, positions at a
time are the snapshots then; and at a few hundred thousand rows every query is an index
scan, not a table scan."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import asyncpg
import pytest

from portfolio.views import account_view
from store import history
from tests.store.market import Market

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
async def projected(market: Market, pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    await market.project(pg_dsn, 2_000)
    conn = await asyncpg.connect(pg_dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def all_pages(fetch, **args) -> list[dict]:  # type: ignore[no-untyped-def]
    items, cursor, pages = [], None, 0
    while True:
        page = await fetch(cursor=cursor, **args)
        items += page.items
        pages += 1
        if page.next is None:
            return items
        cursor = page.next
        assert pages < 10_000


async def busiest(conn: asyncpg.Connection, table: str) -> int:
    return int(await conn.fetchval(
        f"SELECT account FROM trading.{table} GROUP BY account ORDER BY count(*) DESC LIMIT 1"))


async def test_order_pages_add_up(projected: asyncpg.Connection) -> None:
    account = await busiest(projected, "orders")
    paged = await all_pages(lambda **a: history.orders(projected, account, limit=7, **a))
    every = await projected.fetch("SELECT order_id FROM trading.orders WHERE account = $1 "
                                  "ORDER BY order_id DESC", account)
    assert [o["order_id"] for o in paged] == [r["order_id"] for r in every]
    assert len(paged) > 20
    open_only = await all_pages(lambda **a: history.orders(projected, account, open_only=True,
                                                           limit=5, **a))
    assert [o["order_id"] for o in open_only] == [o["order_id"] for o in paged
                                                  if o["status"] in history.OPEN]
    some = paged[len(paged) // 2]
    assert await history.order(projected, account, some["order_id"]) == some
    assert await history.order(projected, account + 1000, some["order_id"]) is None
    events = await history.order_history(projected, account, some["order_id"])
    assert events[-1]["status"] == some["status"]
    assert events[-1]["filled"] == some["filled"]
    with pytest.raises(history.CursorError):
        await history.orders(projected, account, cursor="12.x")


async def test_trade_pages_add_up_and_filter(projected: asyncpg.Connection) -> None:
    account = await busiest(projected, "fills")
    paged = await all_pages(lambda **a: history.trades(projected, account, limit=9, **a))
    count = await projected.fetchval("SELECT count(*) FROM trading.fills WHERE account = $1",
                                     account)
    assert len(paged) == count > 10
    keys = [(t["seq"], t["trade_id"], t["order_id"]) for t in paged]
    assert keys == sorted(keys, reverse=True)
    assert len(set(keys)) == len(keys)
    symbol = paged[0]["symbol"]
    only = await all_pages(lambda **a: history.trades(projected, account, symbol=symbol, **a))
    assert only == [t for t in paged if t["symbol"] == symbol]
    middle = sorted(t["ts"] for t in paged)[len(paged) // 2]
    later = await all_pages(lambda **a: history.trades(projected, account, from_ts=middle, **a))
    assert later == [t for t in paged if t["ts"] >= middle]


async def test_the_statement_chains_to_the_cores_cash(projected: asyncpg.Connection,
                                                      market: Market) -> None:
    assert market.node.core is not None
    assert market.node.core.risk is not None
    account = await busiest(projected, "ledger_entries")
    entries, cursor, opening = [], None, None
    while True:
        page = await history.statement(projected, account, limit=11, cursor=cursor)
        if opening is None:
            opening = page["opening_balance"]
        entries += page["entries"]
        cursor = page["next"]
        if cursor is None:
            break
    assert opening == 0
    balance = opening
    for entry in entries:  # each entry moves the balance by its own change
        assert entry["balance"] == balance + entry["change"]
        balance = entry["balance"]
    assert balance == account_view(market.node.core.risk.account_state(account)).cash
    middle = entries[len(entries) // 2]
    tail = await history.statement(projected, account, from_ts=middle["ts"], limit=1_000)
    first = next(e for e in entries if e["ts"] >= middle["ts"])
    assert tail["opening_balance"] == first["balance"] - first["change"]
    assert tail["entries"][0]["seq"] == first["seq"]


async def test_positions_at_a_time_are_the_snapshots_then(projected: asyncpg.Connection) -> None:
    account = await busiest(projected, "position_snapshots")
    now = await history.positions_at(projected, account, time.time_ns() + 10**12)
    latest = await projected.fetch(
        "SELECT DISTINCT ON (symbol, product) symbol, product, net, realised, open_buy, "
        "open_sell FROM trading.position_snapshots WHERE account = $1 "
        "ORDER BY symbol, product, seq DESC", account)
    assert [(p["symbol"], p["product"], p["net"]) for p in now] == [
        (r["symbol"], r["product"], r["net"]) for r in latest
        if r["net"] or r["realised"] or r["open_buy"] or r["open_sell"]]
    assert await history.positions_at(projected, account, 0) == []
    snapshots = await projected.fetch(
        "SELECT ts FROM trading.position_snapshots WHERE account = $1 ORDER BY seq", account)
    halfway = snapshots[len(snapshots) // 2]["ts"]
    then = await history.positions_at(projected, account, halfway)
    assert all(p["ts"] <= halfway for p in then)


SCALE = 300_000


async def test_every_query_uses_an_index_at_scale(pg: asyncpg.Connection) -> None:
    from store.migrate import migrate

    await migrate(pg)
    await pg.execute(f"""
        INSERT INTO trading.orders SELECT i, i % 500, 'c' || i, 'SYM' || (i % 40), 'BUY',
          'LIMIT', 'DAY', 'MIS', 100, 0, 1, 0, 1, 0,
          CASE WHEN i % 7 = 0 THEN 'OPEN' ELSE 'FILLED' END, '', i, i, i
          FROM generate_series(1, {SCALE}) i;
        INSERT INTO trading.fills SELECT i, i, i % 500, 'c', 'SYM' || (i % 40), 'BUY', 100, 1,
          'taker', i, i FROM generate_series(1, {SCALE}) i;
        INSERT INTO trading.ledger_entries SELECT i, 0, i % 500, 'DEPOSIT', 2, 0, 1, i, i, i
          FROM generate_series(1, {SCALE}) i;
        INSERT INTO trading.position_snapshots SELECT i % 500, 'SYM' || (i % 40), 'MIS', i, i,
          1, 100, 100, 0, 0, 0, 0, 1, 0, 0 FROM generate_series(1, {SCALE}) i;
        ANALYZE;""")
    plans = {
        "orders": ("SELECT * FROM trading.orders WHERE account = $1 AND ($2::bigint IS NULL OR "
                   "order_id < $2) ORDER BY order_id DESC LIMIT 101", [7, 250_000]),
        "fills": ("SELECT * FROM trading.fills WHERE account = $1 AND (seq, trade_id, order_id) "
                  "< ($2, $2, $2) ORDER BY seq DESC, trade_id DESC, order_id DESC LIMIT 101",
                  [7, 250_000]),
        "ledger_entries": ("SELECT * FROM trading.ledger_entries WHERE account = $1 AND "
                           "(seq, n) > ($2, 0) ORDER BY seq, n LIMIT 101", [7, 1_000]),
    }
    for table, (sql, args) in plans.items():
        plan = json.dumps(await pg.fetchval(f"EXPLAIN (FORMAT JSON) {sql}", *args))
        assert "Seq Scan" not in plan, (table, plan)
        assert "Index" in plan, (table, plan)
    started = time.perf_counter()
    rows = await history.positions_at(pg, 7, SCALE // 2)
    elapsed = time.perf_counter() - started
    held = {f"SYM{i % 40}" for i in range(7, SCALE // 2 + 1, 500)}  # account 7's rows
    assert {r["symbol"] for r in rows} == held
    plan = json.dumps(await pg.fetchval(
        "EXPLAIN (FORMAT JSON) SELECT symbol FROM trading.position_snapshots WHERE account = $1 "
        "AND symbol = $2 AND product = 'MIS' AND ts <= $3 ORDER BY ts DESC LIMIT 1",
        7, "SYM7", SCALE // 2))
    assert "Seq Scan" not in plan
    assert elapsed < 30  # generous: correctness, not speed, is checked here
