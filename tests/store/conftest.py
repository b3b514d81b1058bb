"""Each test gets a database of its own on the real PostgreSQL (dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.gateway.conftest import exchange, limits
from tests.store.market import market

__all__ = ["exchange", "limits", "market", "pg", "pg_dsn"]
SERVER = os.environ.get("GRIDWORKS_TEST_PG", "postgresql://postgres@127.0.0.1:5432")


@pytest.fixture
async def pg_dsn() -> AsyncIterator[str]:
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{SERVER}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg(pg_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pg_dsn)
    try:
        yield conn
    finally:
        await conn.close()


REDIS = os.environ.get("GRIDWORKS_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of the test's own on the real Redis; its keys are deleted afterwards."""
    from redis.asyncio import Redis

    prefix = f"gwtest:{uuid.uuid4().hex[:12]}"
    yield prefix
    client = Redis.from_url(REDIS)
    keys = [k async for k in client.scan_iter(f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()
