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
