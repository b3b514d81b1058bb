"""Migrations on a real PostgreSQL: applied once, in order, each all or nothing."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from store.migrate import Migration, MigrationError, migrate, migrations, pending


async def tables(conn: asyncpg.Connection) -> set[str]:
    rows = await conn.fetch("SELECT table_schema || '.' || table_name AS t FROM "
                            "information_schema.tables WHERE table_schema IN ('trading', 'users')")
    return {r["t"] for r in rows}


async def test_migrate_builds_the_schemas_once(pg: asyncpg.Connection) -> None:
    versions = [m.version for m in migrations()]
    assert await migrate(pg) == versions
    assert {"trading.orders", "trading.order_events", "trading.fills", "trading.ledger_entries",
            "trading.position_snapshots", "trading.projection", "users.accounts",
            "users.api_keys"} <= await tables(pg)
    assert await migrate(pg) == []  # safe to run twice
    recorded = await pg.fetch("SELECT version, name FROM public.schema_migrations ORDER BY 1")
    assert [r["version"] for r in recorded] == versions
    assert await pending(pg) == []


async def test_a_failing_migration_leaves_nothing_behind(pg: asyncpg.Connection) -> None:
    good, *_ = migrations()
    broken = Migration(2, "broken", "CREATE TABLE public.half_done (x int); SELECT nonsense;")
    with pytest.raises(asyncpg.PostgresError):
        await migrate(pg, [good, broken])
    versions = await pg.fetch("SELECT version FROM public.schema_migrations")
    assert [r["version"] for r in versions] == [1]
    assert await pg.fetchval("SELECT to_regclass('public.half_done')") is None


async def test_a_changed_migration_is_refused(pg: asyncpg.Connection) -> None:
    first, *_ = migrations()
    await migrate(pg, [first])
    edited = Migration(first.version, first.name, first.sql + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(pg, [edited])


async def test_concurrent_migrators_apply_each_version_once(pg_dsn: str) -> None:
    conns = [await asyncpg.connect(pg_dsn) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    applied = sorted(v for result in results for v in result)
    assert applied == [m.version for m in migrations()]


async def test_the_leaner_keys_keep_the_history_and_still_refuse_duplicates(
        pg: asyncpg.Connection) -> None:
    """Migration 4 re-keys tables that may already hold history: every row stays, and a
    row the old key refused is refused by the new one."""
    *before, leaner = migrations()
    assert leaner.name == "leaner_history_indexes"
    await migrate(pg, before)
    await pg.execute(
        "INSERT INTO trading.orders VALUES (7, 1, 'c7', 'INFY', 'BUY', 'LIMIT', 'DAY', 'MIS',"
        " 100, 0, 5, 0, 5, 0, 'OPEN', '', 1, 1, 7)")
    await pg.execute("INSERT INTO trading.order_events VALUES (7, 0, 7, 1, 'OPEN', 100, 0, 5,"
                     " 0, 5, 0, '', 1)")
    await pg.execute("INSERT INTO trading.fills VALUES (9, 7, 1, 'c7', 'INFY', 'BUY', 100, 5,"
                     " 'maker', 2, 9)")
    await pg.execute("INSERT INTO trading.ledger_entries VALUES (9, 0, 1, 'TRADE_VALUE', 0, 1,"
                     " 500, 9, 2, -500)")
    await pg.execute("INSERT INTO trading.position_snapshots VALUES (1, 'INFY', 'MIS', 9, 2,"
                     " 5, 100, 500, 0, 0, 0, 0, 5, 0, 0)")
    assert await migrate(pg) == [leaner.version]
    for table, key in (("orders", "account, order_id"), ("order_events", "order_id, seq, n"),
                       ("fills", "order_id, trade_id"), ("ledger_entries", "account, seq, n"),
                       ("position_snapshots", "account, symbol, product, ts, seq")):
        assert await pg.fetchval(f"SELECT count(*) FROM trading.{table}") == 1
        definition = await pg.fetchval(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = $1::regclass AND contype = 'p'", f"trading.{table}")
        assert definition == f"PRIMARY KEY ({key})"
    with pytest.raises(asyncpg.UniqueViolationError):
        await pg.execute("INSERT INTO trading.fills VALUES (9, 7, 1, 'c7', 'INFY', 'BUY', 100,"
                         " 5, 'maker', 2, 9)")
