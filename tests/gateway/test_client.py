"""The Python client (`gateway.client.Client`) against bare WebSocket servers: what it does
when a request cannot be answered."""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from gateway.client import Client


async def _hang_up(ws: ServerConnection) -> None:
    await ws.close()


async def _never_answer(ws: ServerConnection) -> None:
    async for _ in ws:
        pass


async def test_a_request_on_a_closed_connection_fails_and_leaves_nothing_waiting() -> None:
    async with serve(_hang_up, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = await Client.connect(f"ws://127.0.0.1:{port}/")
        await asyncio.wait_for(client.ws.wait_closed(), 5)
        for _ in range(3):
            with pytest.raises(ConnectionClosed):
                await client.call("ping")
        # Nothing is left for the reader to fail later (an exception no one would read).
        assert client._waiting == {}
        await client.close()


async def test_a_request_that_times_out_is_no_longer_waited_for() -> None:
    async with serve(_never_answer, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        client = await Client.connect(f"ws://127.0.0.1:{port}/")
        with pytest.raises(TimeoutError):
            await client.call("ping", timeout=0.05)
        with pytest.raises(TimeoutError):
            await client.call_batch([{"id": "a", "op": "ping", "args": {}},
                                     {"id": "b", "op": "ping", "args": {}}], timeout=0.05)
        assert client._waiting == {}
        await client.close()
