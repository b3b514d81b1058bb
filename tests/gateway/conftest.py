"""A real node with its gateway on a free loopback port, and two funded traders."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts.registry import Scope
from engine.commands import SetLimits
from gateway.client import Client
from gateway.limits import Limits
from gateway.server import Gateway, GatewayConfig
from gridworks.admin import Admin, Credentials
from gridworks.config import NodeConfig
from gridworks.node import Node

RUPEE = 100


@dataclass
class Exchange:
    node: Node
    gateway: Gateway
    url: str
    alice: Credentials
    bob: Credentials
    viewer: Credentials  # read-only key of alice's account
    admin: Admin

    async def client(self, who: Credentials | None = None, fmt: str = "json") -> Client:
        client = await Client.connect(self.url, fmt)
        if who is not None:
            await client.login(who.key_id, who.secret)
        return client


@pytest.fixture
def limits() -> Limits:
    return Limits(heartbeat_s=0.2)


@pytest.fixture
async def exchange(tmp_path: Path, limits: Limits) -> AsyncIterator[Exchange]:
    config = NodeConfig(data_dir=tmp_path, max_orders=4096, max_accounts=64, fsync="os",
                        square_off_at="", end_of_day_at="", mark_interval_ms=-1,
                        demo_accounts=False)
    node = Node(config)
    await node.start()
    admin = Admin(node, node.kek)
    _, alice = await admin.create_account("alice", 10_00_000 * RUPEE)
    _, bob = await admin.create_account("bob", 10_00_000 * RUPEE)
    viewer = await admin.new_key(alice.account, Scope.READ, "viewer")
    # The tests trade faster than the 10 orders/s a retail API key gets.
    await node.submit([SetLimits(a.account, rate_per_s=0) for a in (alice, bob)])
    gateway = Gateway(node, node.kek, GatewayConfig(port=0, limits=limits), admin=admin)
    await gateway.start()
    try:
        yield Exchange(node, gateway, f"ws://127.0.0.1:{gateway.port}/", alice, bob, viewer,
                       admin)
    finally:
        await gateway.stop(reconnect_after_ms=10)
        await node.stop()


async def http_get(port: int, path: str, headers: dict[str, str] | None = None,
                   ) -> tuple[int, dict[str, str], bytes]:
    """A plain HTTP GET on the gateway's port: status, headers (lower-case names), body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent = {"Host": f"127.0.0.1:{port}", **(headers or {})}
    head = "".join(f"{k}: {v}\r\n" for k, v in sent.items())
    writer.write(f"GET {path} HTTP/1.1\r\n{head}\r\n".encode())
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head_text, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head_text.decode().split("\r\n")
    fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), fields, body
