"""Cluster tests run against the real broker (Tansu) and the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tests.bus.conftest import broker
from tests.store.conftest import REDIS, redis_prefix

__all__ = ["REDIS", "broker", "kafka_prefix", "redis", "redis_prefix"]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS, socket_timeout=1, socket_connect_timeout=1)
    yield client
    await client.aclose()


@pytest.fixture
def kafka_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."
