"""``gridworks db``: the PostgreSQL side of a node (``--pg DSN`` or ``GRIDWORKS_PG``).

    gridworks db migrate     apply the migrations the database lacks
    gridworks db status      the applied and pending migrations, and the projection's seq
"""

from __future__ import annotations

import argparse
import asyncio

from gridworks.config import ConfigError, from_environment


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="PostgreSQL: migrate, status")
    p.add_argument("action", choices=["migrate", "status"])
    p.add_argument("--pg", default=None, help="PostgreSQL DSN (default GRIDWORKS_PG)")
    p.set_defaults(handler=_db)


def _db(args: argparse.Namespace) -> int:
    dsn = args.pg or from_environment().pg
    if not dsn:
        raise ConfigError("no database: give --pg DSN or set GRIDWORKS_PG")
    return asyncio.run(_migrate(dsn) if args.action == "migrate" else _status(dsn))


async def _migrate(dsn: str) -> int:
    import asyncpg

    from store.migrate import migrate

    conn = await asyncpg.connect(dsn)
    try:
        done = await migrate(conn)
    finally:
        await conn.close()
    print(f"applied {', '.join(map(str, done))}" if done else "up to date")
    return 0


async def _status(dsn: str) -> int:
    import asyncpg

    from store.migrate import applied, migrations

    conn = await asyncpg.connect(dsn)
    try:
        done = await applied(conn)
        projected = None
        if await conn.fetchval("SELECT to_regclass('trading.projection')") is not None:
            projected = await conn.fetchval(
                "SELECT last_seq FROM trading.projection WHERE name = 'trading'")
    finally:
        await conn.close()
    for m in migrations():
        print(f"{m.version:04d} {m.name:<20} {'applied' if m.version in done else 'pending'}")
    print(f"projection at seq {projected if projected is not None else '-'}")
    return 0
