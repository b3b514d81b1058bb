"""A tiny HTTP endpoint for health checks and operators: ``/health``, ``/status``.

Plain asyncio streams, GET only, one request per connection, bounded in size and time:
enough for load balancers and ``curl``. The trading APIs live in `gateway/`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec

MAX_HEAD = 8 * 1024
READ_TIMEOUT = 5.0

Route = Callable[[], object]


def _response(status: str, body: object) -> bytes:
    payload = msgspec.json.encode(body)
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n"
        "Cache-Control: no-store\r\n\r\n"
    )
    return head.encode() + payload


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)


def make_handler(routes: dict[str, Route]):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                head = await _read_head(reader)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
                writer.write(_response("400 Bad Request", {"error": "BAD_REQUEST"}))
                return
            request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = request_line.split(" ")
            if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
                writer.write(_response("400 Bad Request", {"error": "BAD_REQUEST"}))
            elif parts[0] != "GET":
                writer.write(_response("405 Method Not Allowed", {"error": "METHOD_NOT_ALLOWED"}))
            elif (route := routes.get(parts[1].split("?", 1)[0])) is None:
                writer.write(_response("404 Not Found", {"error": "NOT_FOUND"}))
            else:
                writer.write(_response("200 OK", route()))
            await writer.drain()
        finally:
            writer.close()

    return handle


async def serve_status(host: str, port: int, routes: dict[str, Route]) -> asyncio.Server:
    return await asyncio.start_server(make_handler(routes), host, port, limit=MAX_HEAD)
