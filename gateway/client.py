"""A small asyncio client of the WebSocket API, for tests, tools and load generators.

    client = await Client.connect("ws://127.0.0.1:8080/")
    await client.login(key_id, secret)
    result = await client.request("place", symbol="RELIANCE", side="buy", qty=1,
                                  price=141_230, client_order_id="a1")
    push = await client.next_push("orders")

Replies are matched to requests by id; pushes are kept in arrival order.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from accounts.keys import login_args


class ClientError(Exception):
    def __init__(self, error: dict) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code: str = error.get("code", "")
        self.error = error


class Client:
    def __init__(self, ws: ClientConnection, fmt: str) -> None:
        self.ws = ws
        self.fmt = fmt
        self._ids = itertools.count(1)
        self._waiting: dict[Any, asyncio.Future[dict]] = {}
        self.pushes: deque[dict] = deque()
        self._arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, fmt: str = "json", **kwargs: Any) -> Client:
        if fmt == "msgpack":
            url += ("&" if "?" in url else "?") + "format=msgpack"
        ws = await connect(url, compression=None, max_size=1 << 22, **kwargs)
        return cls(ws, fmt)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)

    # --- requests ------------------------------------------------------------------------------

    async def send_raw(self, frame: bytes | str) -> None:
        await self.ws.send(frame)

    async def call(self, op: str, args: dict | None = None, timeout: float = 5.0) -> dict:
        """The whole reply to a request (``ok`` true or false)."""
        request_id = next(self._ids)
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        body = {"id": request_id, "op": op, "args": args or {}}
        try:
            if self.fmt == "json":
                await self.ws.send(msgspec.json.encode(body).decode())
            else:
                await self.ws.send(msgspec.msgpack.encode(body))
            return await asyncio.wait_for(future, timeout)
        finally:
            # A request that failed to go out or timed out is no longer waited for: the
            # reader must not keep it, nor later fail a future that no one will read.
            self._waiting.pop(request_id, None)

    async def call_batch(self, requests: list[dict], timeout: float = 5.0) -> list[dict]:
        """Send ``requests`` (each with its own ``id``) in one array frame; their replies in
        the order they arrived."""
        arrived: list[dict] = []
        futures = []
        for request in requests:
            future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
            future.add_done_callback(lambda f: arrived.append(f.result()))
            self._waiting[request["id"]] = future
            futures.append(future)
        try:
            if self.fmt == "json":
                await self.ws.send(msgspec.json.encode(requests).decode())
            else:
                await self.ws.send(msgspec.msgpack.encode(requests))
            await asyncio.wait_for(asyncio.gather(*futures), timeout)
        finally:
            for request in requests:
                self._waiting.pop(request["id"], None)
        return arrived

    async def request(self, op: str, timeout: float = 5.0, **args: Any) -> Any:
        """The result of a request; `ClientError` if it failed."""
        reply = await self.call(op, args, timeout)
        if not reply["ok"]:
            raise ClientError(reply["error"])
        return reply.get("result")

    async def login(self, key_id: str, secret: str) -> dict:
        return await self.request("login", **login_args(key_id, secret))

    # --- pushes --------------------------------------------------------------------------------

    async def next_push(self, channel: str | None = None, timeout: float = 5.0) -> dict:
        """The oldest unread push (of ``channel``, if given); others stay queued."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for push in self.pushes:
                if channel is None or push["ch"] == channel:
                    self.pushes.remove(push)
                    return push
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise TimeoutError(f"no push on {channel!r} within {timeout} s")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                continue

    def drain(self, channel: str | None = None) -> list[dict]:
        out = [p for p in self.pushes if channel is None or p["ch"] == channel]
        for push in out:
            self.pushes.remove(push)
        return out

    async def _read(self) -> None:
        try:
            await self._read_frames()
        except ConnectionClosed as exc:  # the server closed: its code and reason stay on ws
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(exc)
            self._arrived.set()

    async def _read_frames(self) -> None:
        decode = msgspec.json.decode if self.fmt == "json" else msgspec.msgpack.decode
        async for frame in self.ws:
            message = decode(frame)
            for item in message if isinstance(message, list) else [message]:
                if "ok" in item:
                    future = self._waiting.pop(item.get("id"), None)
                    if future is not None and not future.done():
                        future.set_result(item)
                    elif future is None:
                        self.pushes.append({"ch": "unmatched_reply", "data": item})
                else:
                    self.pushes.append(item)
            self._arrived.set()
