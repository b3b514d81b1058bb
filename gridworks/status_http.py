"""The smallest HTTP server a process without a gateway needs: ``GET /healthz`` and
``GET /status`` (JSON), one request per connection, for probes and operators."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import msgspec

MAX_REQUEST = 8 * 1024


class StatusServer:
    def __init__(self, status: Callable[[], dict[str, object]], host: str, port: int) -> None:
        self.status = status
        self.host = host
        self.wanted_port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.wanted_port)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            status, body = self._answer(head[:MAX_REQUEST].split(b"\r\n", 1)[0])
            writer.write(b"HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                         % (status, len(body), body))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _answer(self, request_line: bytes) -> tuple[bytes, bytes]:
        parts = request_line.split()
        if len(parts) != 3 or parts[0] != b"GET":
            return b"405 Method Not Allowed", b'{"error":"GET only"}'
        path = parts[1].split(b"?", 1)[0]
        if path == b"/healthz":
            return b"200 OK", b'{"ok":true}'
        if path == b"/status":
            return b"200 OK", msgspec.json.encode(self.status())
        return b"404 Not Found", b'{"error":"not found"}'
