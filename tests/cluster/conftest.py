"""Cluster tests run against the real broker (Tansu) and the real Redis."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from redis.asyncio import Redis

from tests.bus.conftest import broker
from tests.store.conftest import REDIS, redis_prefix

if TYPE_CHECKING:
    from gridworks.account_desk import AccountDesk
    from gridworks.admin import Credentials
    from gridworks.cluster import LocalCluster
    from tests.gateway.fix.test_simplefix_e2e import SimpleFixClient

__all__ = ["REDIS", "broker", "fix_logon", "kafka_prefix", "redis", "redis_prefix",
           "shared_account"]


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS, socket_timeout=1, socket_connect_timeout=1)
    yield client
    await client.aclose()


@pytest.fixture
def kafka_prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


async def shared_account(cluster: LocalCluster, name: str, funds: int,
                         shards: int = 2) -> tuple[AccountDesk, int, Credentials]:
    """An account on every shard of the cluster under one id and key, funded on each, made
    by the account desk as an operator would; the desk is the caller's to stop."""
    from bus.commandlog import ShardLog
    from bus.kafka import KafkaConfig
    from gridworks.account_desk import AccountDesk
    from gridworks.config import NodeConfig, core_config

    plan = cluster.plan
    kafka = KafkaConfig(plan.kafka, prefix=plan.kafka_prefix, idempotent=False)
    desk = AccountDesk({k: ShardLog(kafka, shard=k, shards=shards) for k in range(shards)},
                       core_config(NodeConfig()),
                       base64.b64decode(cluster.env["GRIDWORKS_KEK"]))
    await desk.start()
    account, credentials = await desk.create_account(name, funds)
    assert credentials is not None
    for shard in range(1, shards):
        await desk.admins[shard].fund(account, funds)
    return desk, account, credentials


async def fix_logon(port: int, client: SimpleFixClient | None = None,
                    heartbeat_s: int = 5) -> SimpleFixClient:
    """A simplefix client's Logon (password session) on a FIX port: a new client, or the
    same session on a new connection."""
    import asyncio

    from tests.gateway.fix.test_simplefix_e2e import PASSWORD, SimpleFixClient

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if client is None:
        client = SimpleFixClient(reader, writer)
    else:
        client.reader, client.writer = reader, writer
    await client.send("A", (98, 0), (108, heartbeat_s), (554, PASSWORD))
    return client
