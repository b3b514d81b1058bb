"""A real node, its gateway and the FIX acceptor on free loopback ports, with sessions for
two funded traders, a password desk, and a drop copy; and a FIX client that builds its
messages by hand, so that tests can break them on purpose."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from accounts.users import HASHER
from engine.commands import SetLimits
from gateway.fix.acceptor import FixAcceptor
from gateway.fix.codec import Framer, Garbled, Message, encode
from gateway.fix.config import FixConfig, SessionConfig
from gateway.fix.session import sending_time
from gateway.limits import Limits
from gateway.server import Gateway, GatewayConfig
from gridworks.admin import Admin, Credentials
from gridworks.config import NodeConfig
from gridworks.node import Node

RUPEE = 100
DESK_PASSWORD = "desk password 1"
COPY_PASSWORD = "copy password 1"


@dataclass
class FixMarket:
    """Start, stop and start again on the same data directory."""

    data_dir: Path
    heartbeat_timeout_s: float = 10.0
    node: Node | None = None
    gateway: Gateway | None = None
    acceptor: FixAcceptor | None = None
    alice: Credentials | None = None
    bob: Credentials | None = None
    hashes: dict[str, str] = field(default_factory=dict)
    port: int = 0

    async def start(self) -> None:
        config = NodeConfig(data_dir=self.data_dir, max_orders=4096, max_accounts=64,
                            fsync="os", square_off_at="", end_of_day_at="",
                            mark_interval_ms=-1, demo_accounts=False)
        self.node = Node(config)
        await self.node.start()
        admin = Admin(self.node, self.node.kek)
        if self.alice is None:
            _, self.alice = await admin.create_account("alice", 10_00_000 * RUPEE)
            _, self.bob = await admin.create_account("bob", 10_00_000 * RUPEE)
            await self.node.submit([SetLimits(a.account, rate_per_s=0)
                                    for a in (self.alice, self.bob)])
            self.hashes = {"desk": HASHER.hash(DESK_PASSWORD),
                           "copy": HASHER.hash(COPY_PASSWORD)}
        assert self.alice is not None
        assert self.bob is not None
        self.gateway = Gateway(self.node, self.node.kek,
                               GatewayConfig(port=0, limits=Limits(heartbeat_s=0.5)),
                               admin=admin)
        await self.gateway.start()
        sessions = [
            SessionConfig("ALICE", key_id=self.alice.key_id),
            SessionConfig("BOB", key_id=self.bob.key_id),
            SessionConfig("DESK", password_hash=self.hashes["desk"], accounts=["alice", "bob"]),
            SessionConfig("COPY", kind="drop_copy", password_hash=self.hashes["copy"],
                          accounts=["alice"]),
        ]
        fix = FixConfig(port=self.port, comp_id="GRIDWORKS", sessions=sessions,
                        logon_timeout_s=1.0)
        self.acceptor = FixAcceptor(self.gateway, fix, self.data_dir, "127.0.0.1")
        await self.acceptor.start()
        self.port = self.acceptor.port  # the same port after a restart

    async def stop(self) -> None:
        assert self.acceptor
        assert self.gateway
        assert self.node
        await self.acceptor.stop()
        await self.gateway.stop(reconnect_after_ms=10)
        await self.node.stop()

    def credentials(self, comp_id: str) -> list[tuple[int, Any]]:
        """The Logon fields that authenticate a session."""
        assert self.alice
        assert self.bob
        if comp_id in ("ALICE", "BOB"):
            key = self.alice if comp_id == "ALICE" else self.bob
            return [(553, key.key_id), (554, key.secret)]
        return [(554, DESK_PASSWORD if comp_id == "DESK" else COPY_PASSWORD)]

    async def client(self, comp_id: str, logon: bool = True, heart_bt_int: int = 30,
                     reset: bool = False) -> FixClient:
        client = await FixClient.connect(self.port, comp_id)
        if logon:
            reply = await client.logon(self.credentials(comp_id), heart_bt_int, reset)
            assert reply.msg_type == "A", reply.fields
        return client


class FixClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 comp_id: str) -> None:
        self.reader, self.writer = reader, writer
        self.comp_id = comp_id
        self.seq = 1
        self.framer = Framer()
        self.inbox: list[Message] = []
        self.garbled: list[Garbled] = []

    @classmethod
    async def connect(cls, port: int, comp_id: str) -> FixClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer, comp_id)

    def build(self, msg_type: str, body: list[tuple[int, Any]] | None = None,
              seq: int | None = None, sent_at: int | None = None,
              extra: list[tuple[int, Any]] | None = None, target: str = "GRIDWORKS") -> bytes:
        number = self.seq if seq is None else seq
        if seq is None:
            self.seq += 1
        header = [(49, self.comp_id), (56, target), (34, number),
                  (52, sending_time(sent_at or time.time_ns())), *(extra or [])]
        return encode(msg_type, header, body or [])

    async def send(self, msg_type: str, body: list[tuple[int, Any]] | None = None,
                   **options: Any) -> None:
        await self.write(self.build(msg_type, body, **options))

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def logon(self, credentials: list[tuple[int, Any]], heart_bt_int: int = 30,
                    reset: bool = False) -> Message:
        body = [(98, 0), (108, heart_bt_int), *credentials]
        if reset:
            body.append((141, "Y"))
        await self.send("A", body)
        return await self.next()

    async def next(self, timeout: float = 5.0) -> Message:
        """The next message from the server."""
        deadline = time.monotonic() + timeout
        while not self.inbox:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from the server")
            data = await asyncio.wait_for(self.reader.read(65536), left)
            if not data:
                raise ConnectionError("the server closed the connection")
            for item in self.framer.feed(data):
                if isinstance(item, Message):
                    self.inbox.append(item)
                else:
                    self.garbled.append(item)
        return self.inbox.pop(0)

    async def expect(self, msg_type: str, timeout: float = 5.0,
                     skip: tuple[str, ...] = ("0",)) -> Message:
        """The next message that is not one of ``skip`` (heartbeats); it must be of
        ``msg_type``."""
        while True:
            message = await self.next(timeout)
            if message.msg_type not in skip:
                assert message.msg_type == msg_type, (msg_type, message.fields)
                return message

    async def closed(self, timeout: float = 5.0) -> list[Message]:
        """Read until the server closes the connection; what came before."""
        got = list(self.inbox)
        self.inbox.clear()
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the server did not close the connection")
            try:
                data = await asyncio.wait_for(self.reader.read(65536), left)
            except ConnectionResetError:
                return got
            if not data:
                return got
            got += [m for m in self.framer.feed(data) if isinstance(m, Message)]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


def order(cl_ord_id: str, side: int = 1, qty: int = 10, price: str = "1410.00",
          symbol: str = "RELIANCE", ord_type: str = "2",
          extra: list[tuple[int, Any]] | None = None) -> list[tuple[int, Any]]:
    """A NewOrderSingle's body (a limit order unless told)."""
    body: list[tuple[int, Any]] = [(11, cl_ord_id), (55, symbol), (54, side),
                                   (60, sending_time(time.time_ns())), (38, qty),
                                   (40, ord_type)]
    if ord_type in ("2", "4"):
        body.append((44, price))
    return body + (extra or [])


@pytest.fixture
async def market(tmp_path: Path) -> AsyncIterator[FixMarket]:
    fix_market = FixMarket(tmp_path)
    await fix_market.start()
    try:
        yield fix_market
    finally:
        await fix_market.stop()
