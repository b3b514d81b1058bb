"""Requests answered as they are read: quick operations skip the connection's handler task,
and nothing overtakes a request that had to wait for it, whatever arrives in one read."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from accounts.keys import login_args
from gateway import operations
from gateway.operations import Operations
from perf.wsclient import TEXT, ZERO_MASK, RawSocket, frame
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import SYMBOL

pytestmark = pytest.mark.timeout(60)
PASSWORD = "correct horse battery staple"
CONT = 0


class Replies:
    def __init__(self) -> None:
        self.items: list[dict] = []
        self.arrived = asyncio.Event()

    def __call__(self, payload: bytes, now: int) -> None:
        decoded = msgspec.json.decode(payload)
        for item in decoded if isinstance(decoded, list) else [decoded]:
            if "id" in item:  # replies, not pushes
                self.items.append(item)
        self.arrived.set()

    async def wait_for(self, count: int) -> list[dict]:
        async with asyncio.timeout(10):
            while len(self.items) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.items


def request(request_id: object, op: str, **args: object) -> bytes:
    return frame(msgspec.json.encode({"id": request_id, "op": op, "args": args}))


def fragments(payload: bytes, at: int) -> bytes:
    """``payload`` as a text message in two frames: the first not final, then a
    continuation."""
    first, rest = payload[:at], payload[at:]
    return (bytes((TEXT, 0x80 | len(first))) + ZERO_MASK + first
            + bytes((0x80 | CONT, 0x80 | len(rest))) + ZERO_MASK + rest)


def place(request_id: int, side: str = "buy") -> bytes:
    return request(request_id, "place", symbol=SYMBOL, side=side, qty=1, price=140_000,
                   client_order_id=f"inline-{request_id}")


def dispatched(monkeypatch: pytest.MonkeyPatch, field: str) -> list[object]:
    """The ``field`` of every request frame that reaches the handler task's path."""
    taken: list[object] = []
    original = Operations.dispatch

    async def counted(self: Operations, conn: object, data: bytes | str) -> None:
        taken.append(msgspec.json.decode(data)[field])
        await original(self, conn, data)  # type: ignore[arg-type]

    monkeypatch.setattr(Operations, "dispatch", counted)
    return taken


async def connected(exchange: Exchange) -> tuple[RawSocket, Replies]:
    replies = Replies()
    return await RawSocket.connect(exchange.gateway.port, replies), replies


async def test_a_request_sent_with_its_login_in_one_write_waits_for_the_login(
        exchange: Exchange) -> None:
    sock, replies = await connected(exchange)
    key = exchange.alice
    login = request("login", "login", **login_args(key.key_id, key.secret))
    sock.send_frames(login + place(1) + request(2, "funds"))
    items = await replies.wait_for(3)
    assert [i["id"] for i in items if not isinstance(i["id"], int)] == ["login"]
    assert all(i["ok"] for i in items), items  # neither is refused as NOT_LOGGED_IN
    assert next(i for i in items if i["id"] == 1)["result"]["status"] == "OPEN"
    sock.close()


async def test_quick_requests_behind_a_slow_login_are_answered_after_it(
        exchange: Exchange) -> None:
    """A password login hashes off the event loop, so it truly waits; the pings read in
    the same write must not be answered before it."""
    await exchange.admin.set_user("asha", exchange.alice.account, "trader", PASSWORD)
    sock, replies = await connected(exchange)
    sock.send_frames(request("login", "login", username="asha", password=PASSWORD)
                     + request(1, "ping") + request(2, "orders") + request(3, "ping"))
    items = await replies.wait_for(4)
    assert [i["id"] for i in items] == ["login", 1, 2, 3]
    assert all(i["ok"] for i in items), items  # orders needed the login before it
    sock.close()


async def test_a_fragmented_message_keeps_its_place(exchange: Exchange) -> None:
    sock, replies = await connected(exchange)
    sock.send_frames(request(1, "ping")
                     + fragments(msgspec.json.encode({"id": 2, "op": "ping", "args": {}}), 9)
                     + request(3, "ping") + request(4, "time"))
    items = await replies.wait_for(4)
    assert [i["id"] for i in items] == [1, 2, 3, 4]
    assert all(i["ok"] for i in items)
    sock.close()


async def test_quick_requests_never_reach_the_handler_task(
        exchange: Exchange, monkeypatch: pytest.MonkeyPatch) -> None:
    taken = dispatched(monkeypatch, "op")
    sock, replies = await connected(exchange)
    key = exchange.bob
    sock.send_frames(request("login", "login", **login_args(key.key_id, key.secret)))
    await replies.wait_for(1)
    for n in range(1, 21):
        sock.send_frames(place(n, "sell") if n % 2 else request(n, "ping"))
    items = await replies.wait_for(21)
    assert all(i["ok"] for i in items), items
    assert taken == ["login"]
    sock.close()


async def test_bad_frames_still_get_their_errors(exchange: Exchange) -> None:
    sock, replies = await connected(exchange)
    sock.send_frames(frame(b"{not json") + request(1, "no_such_op") + request(2, "ping")
                     + place(3))
    items = await replies.wait_for(4)
    codes = [None if i["ok"] else i["error"]["code"] for i in items]
    assert codes == ["MALFORMED_FRAME", "UNKNOWN_OP", None, "NOT_LOGGED_IN"]
    sock.close()


async def test_while_the_node_is_behind_frames_queue_for_the_handler_task(
        exchange: Exchange, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the backlog limit frames take the queued path, whose bounded queue pauses
    reading from the socket: a fast client is slowed down instead of being refused."""
    taken = dispatched(monkeypatch, "id")
    monkeypatch.setattr(operations, "INLINE_BACKLOG", 0)  # always behind
    sock, replies = await connected(exchange)
    key = exchange.bob
    sock.send_frames(request("login", "login", **login_args(key.key_id, key.secret))
                     + b"".join(place(n, "sell") for n in range(1, 6)))
    items = await replies.wait_for(6)
    assert all(i["ok"] for i in items), items
    assert taken == ["login", 1, 2, 3, 4, 5]
    sock.close()
