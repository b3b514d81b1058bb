"""The status endpoint answers health checks and refuses anything else cleanly."""

from __future__ import annotations

import asyncio
import json

from gridworks.http_status import serve_status


async def request(port: int, raw: bytes) -> tuple[str, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), json.loads(body)


async def test_routes_and_errors() -> None:
    server = await serve_status("127.0.0.1", 0, {"/health": lambda: {"status": "ok"}})
    port = server.sockets[0].getsockname()[1]
    try:
        assert await request(port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n") == (
            "HTTP/1.1 200 OK", {"status": "ok"})
        assert (await request(port, b"GET /nope HTTP/1.1\r\n\r\n"))[1] == {"error": "NOT_FOUND"}
        assert (await request(port, b"POST /health HTTP/1.1\r\n\r\n"))[0].startswith(
            "HTTP/1.1 405")
        assert (await request(port, b"garbage\r\n\r\n"))[1] == {"error": "BAD_REQUEST"}
        oversized = b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\n\r\n"
        assert (await request(port, oversized))[1] == {"error": "BAD_REQUEST"}
        # The server is still healthy after bad requests.
        assert (await request(port, b"GET /health HTTP/1.1\r\n\r\n"))[1] == {"status": "ok"}
    finally:
        server.close()
        await server.wait_closed()
