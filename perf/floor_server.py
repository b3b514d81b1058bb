"""The floor of the order benchmarks: a WebSocket server that answers every request at once.

    python -m perf.floor_server      # prints {"port": P, "keys": [...]} and serves

It speaks just enough of the protocol for `perf.loadgen orders`: the opening handshake,
masked client frames, and for each request a reply ``{"id": <its id>, "ok": true,
"result": {}}`` written as soon as the request is read; no gateway, no core, no journal.
The same generator against it measures what the loopback sockets, this machine's
scheduling and the generator cost by themselves, so the server's own share of a round
trip can be told apart.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import sys
from typing import Any, cast

import msgspec

ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE = 8


class _Request(msgspec.Struct):
    id: Any = None


_decode = msgspec.json.Decoder(_Request).decode
_encode = msgspec.json.Encoder().encode


def server_frame(payload: bytes, opcode: int = 1) -> bytes:
    """An unmasked final frame (a server's)."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big") + payload


def handshake_reply(request: bytes) -> bytes:
    key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    accept = base64.b64encode(hashlib.sha1(key + ACCEPT_GUID).digest())  # as RFC 6455 says
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")


def unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return b""
    key = (mask * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(len(data), "big")


class Answering(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.opened = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        if not self.opened:
            if b"\r\n\r\n" not in self.buffer:
                return
            request, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            self.transport.write(handshake_reply(request))
            self.opened = True
        replies = []
        for opcode, payload in self._frames():
            if opcode == CLOSE:
                self.transport.write(server_frame(b"\x03\xe8", CLOSE))
                self.transport.close()
                return
            replies.append(server_frame(_encode({"id": _decode(payload).id, "ok": True,
                                                 "result": {}})))
        if replies:
            self.transport.write(b"".join(replies))

    def _frames(self) -> list[tuple[int, bytes]]:
        """The whole client frames in the buffer (the rest stays for the next read)."""
        out, buf, pos = [], self.buffer, 0
        while len(buf) - pos >= 2:
            opcode, length, header = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
            if length == 126:
                length, header = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                length, header = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            start = pos + header + 4  # client frames are masked
            if len(buf) < start + length:
                break
            out.append((opcode, unmask(buf[start:start + length], buf[start - 4:start])))
            pos = start + length
        self.buffer = buf[pos:]
        return out


async def serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answering, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(json.dumps({"port": port, "keys": [[0, "floor", "floor"]]}), flush=True)
    await asyncio.Event().wait()


def main() -> int:
    import uvloop

    uvloop.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
