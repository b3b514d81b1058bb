"""The projector against a real node and a real PostgreSQL: after any stream of commands the
history says what the core says (cash from ledger entries, open orders, latest positions,
fills for every trade, accounts and keys), exactly once, through restarts, database outages,
queue overflows and a second projector."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from gateway.private import AccountFeeds
from portfolio.views import account_view, position_view
from tests.store.market import Market, caught_up, running, stop
from tests.store.proxy import CuttableProxy

pytestmark = pytest.mark.timeout(180)
async def assert_history_matches(dsn: str, market: Market) -> None:
    """What the database says against what the node's core says."""
    core = market.node.core
    assert core is not None
    assert core.risk is not None
    conn = await asyncpg.connect(dsn)
    try:
        assert await conn.fetchval("SELECT last_seq FROM trading.projection") == core.last_seq
        # cash from the ledger entries, per account, equals the core's
        cash = {r["account"]: r["cash"] for r in await conn.fetch(
            "SELECT account, sum(CASE WHEN to_account = 0 THEN amount ELSE 0 END) - "
            "sum(CASE WHEN from_account = 0 THEN amount ELSE 0 END) AS cash "
            "FROM trading.ledger_entries GROUP BY account")}
        balances = {r["account"]: r["balance"] for r in await conn.fetch(
            "SELECT DISTINCT ON (account) account, balance FROM trading.ledger_entries "
            "ORDER BY account, seq DESC, n DESC")}
        for account in range(64):
            expected = account_view(core.risk.account_state(account)).cash
            assert cash.get(account, 0) == expected, account
            assert balances.get(account, 0) == expected, account  # the running balance
        # the open orders and what is left of them
        live = AccountFeeds(core).live
        open_rows = await conn.fetch(
            "SELECT order_id, leaves FROM trading.orders "
            "WHERE status IN ('OPEN', 'TRIGGER_PENDING', 'PARTIALLY_FILLED')")
        assert {r["order_id"]: r["leaves"] for r in open_rows} == {
            oid: o.leaves for oid, o in live.items()}
        # two fills per trade (each side's order), none twice
        assert await conn.fetchval("SELECT count(*) FROM trading.fills") == 2 * market.trades
        # the latest snapshot of each position is the core's position now
        latest = await conn.fetch(
            "SELECT DISTINCT ON (account, symbol, product) account, symbol, product, net, "
            "basis, realised FROM trading.position_snapshots "
            "ORDER BY account, symbol, product, seq DESC")
        symbols = [s.symbol for s in core.specs]
        now = {}
        for account in range(64):
            for row in core.risk.positions_of(account):
                v = position_view(row, [0] * len(symbols))
                now[(account, symbols[v.instrument], v.product.name)] = (v.net, v.basis,
                                                                         v.realised)
        closed = {(0, 0, 0)}  # a row the core dropped ends with an all-zero snapshot
        assert {(r["account"], r["symbol"], r["product"]): (r["net"], r["basis"], r["realised"])
                for r in latest if (r["net"], r["basis"], r["realised"]) not in closed
                or (r["account"], r["symbol"], r["product"]) in now} == now
        names = {r["account"]: r["name"] for r in await conn.fetch(
            "SELECT account, name FROM users.accounts")}
        assert names == {a: rec.name for a, rec in core.registry.accounts.items()}
        keys = await conn.fetchval("SELECT count(*) FROM users.api_keys")
        assert keys == len(core.registry.keys)
        users = {r["username"]: (r["role"], r["active"]) for r in await conn.fetch(
            "SELECT username, role, active FROM users.users")}
        assert users == {n: (u.grant.role, u.grant.active)
                         for n, u in core.registry.users.items()}
    finally:
        await conn.close()


async def test_the_history_follows_the_core(market: Market, pg_dsn: str) -> None:
    projector = await market.project(pg_dsn, 3_000)
    await assert_history_matches(pg_dsn, market)
    assert market.trades > 100
    assert projector.stats.failures == 0


async def test_a_restarted_projector_catches_up_from_snapshot_and_journal(
        market: Market, pg_dsn: str) -> None:
    first = market.projector(pg_dsn)
    task = await running(first)
    await market.run(1_000)
    await caught_up(first, market.node)
    await stop(task)
    market.node.listeners.remove(first.feed)
    await market.run(2_000)  # nobody projects meanwhile; snapshots are taken
    second = market.projector(pg_dsn)
    task = await running(second)
    try:
        await caught_up(second, market.node)
        await market.run(500)
        await caught_up(second, market.node)
    finally:
        await stop(task)
    await assert_history_matches(pg_dsn, market)
    assert second.stats.from_journal >= 2_000
    assert second.stats.failures == 0


async def test_trading_goes_on_while_the_database_is_away(market: Market, pg_dsn: str) -> None:
    database = pg_dsn.rpartition("/")[2]
    proxy = await CuttableProxy("127.0.0.1", 5432).start()
    projector = market.projector(f"postgresql://postgres@127.0.0.1:{proxy.port}/{database}",
                                 retry_s=(0.05, 0.2))
    task = await running(projector)
    try:
        await market.run(500)
        await caught_up(projector, market.node)
        proxy.cut()
        assert market.node.core is not None
        before = market.node.core.last_seq
        await asyncio.wait_for(market.run(1_500), 30)  # the core does not wait for PostgreSQL
        assert market.node.core.last_seq >= before + 1_500
        await asyncio.sleep(0.3)
        assert projector.stats.lag > 0
        assert projector.stats.projected_seq < market.node.core.last_seq
        proxy.restore()
        await caught_up(projector, market.node)
    finally:
        await stop(task)
        await proxy.stop()
    await assert_history_matches(pg_dsn, market)
    assert projector.stats.failures >= 1


async def test_an_overflowing_queue_falls_back_to_the_journal(
        market: Market, pg_dsn: str) -> None:
    projector = market.projector(pg_dsn, max_queued=150, chunk=200)
    task = await running(projector)
    try:
        await market.run(3_000, chunk=300)
        await caught_up(projector, market.node)
    finally:
        await stop(task)
    await assert_history_matches(pg_dsn, market)
    assert projector.stats.overflows >= 1
    assert projector.stats.from_journal > 0


async def test_two_projectors_never_write_a_range_twice(market: Market, pg_dsn: str) -> None:
    one, two = market.projector(pg_dsn, chunk=50), market.projector(pg_dsn, chunk=50)
    tasks = [await running(one), await running(two)]
    try:
        await market.run(2_000)
        await caught_up(one, market.node)
        await caught_up(two, market.node)
    finally:
        for task in tasks:
            await stop(task)
    await assert_history_matches(pg_dsn, market)
    assert "not at seq" in (one.stats.last_error + two.stats.last_error) or (
        one.stats.transactions == 0 or two.stats.transactions == 0)
