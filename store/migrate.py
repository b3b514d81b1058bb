"""Versioned SQL migrations for PostgreSQL: ``store/migrations/NNNN_name.sql``, applied in
order, each in its own transaction together with its row in ``public.schema_migrations``.

Running them twice is safe: applied versions are skipped, and an applied migration whose file
changed since is refused (its checksum is recorded), because the database would no longer be
what the files describe. An advisory lock keeps two migrators from interleaving.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

LOCK_KEY = 7_463_012_208  # pg_advisory_lock key of the migrator
NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

TABLE = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version     integer PRIMARY KEY,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""


class MigrationError(RuntimeError):
    """The database and the migration files disagree."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations() -> list[Migration]:
    """The migrations shipped with the package, by version."""
    found = []
    for entry in resources.files("store").joinpath("migrations").iterdir():
        match = NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration versions must run 1, 2, 3...: {versions}")
    return found


async def applied(conn: asyncpg.Connection) -> dict[int, str]:
    """Version -> checksum of what the database has applied (nothing, before the first)."""
    if await conn.fetchval("SELECT to_regclass('public.schema_migrations')") is None:
        return {}
    rows = await conn.fetch("SELECT version, checksum FROM public.schema_migrations")
    return {r["version"]: r["checksum"] for r in rows}


async def migrate(conn: asyncpg.Connection, wanted: list[Migration] | None = None) -> list[int]:
    """Apply what is missing; the versions applied now."""
    wanted = migrations() if wanted is None else wanted
    await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
    try:
        await conn.execute(TABLE)
        done = await applied(conn)
        for migration in wanted:
            if migration.version in done and done[migration.version] != migration.checksum:
                raise MigrationError(f"migration {migration.version} ({migration.name}) was "
                                     "changed after it was applied")
        now = []
        for migration in wanted:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO public.schema_migrations (version, name, checksum) "
                    "VALUES ($1, $2, $3)", migration.version, migration.name, migration.checksum)
            now.append(migration.version)
        return now
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)


async def pending(conn: asyncpg.Connection) -> list[Migration]:
    done = await applied(conn)
    return [m for m in migrations() if m.version not in done]
