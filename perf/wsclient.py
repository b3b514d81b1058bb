"""A minimal WebSocket client for load generation: pre-encoded frames, no per-message
machinery, so that one generator core can drive and observe many connections.

Frames to the server are masked with an all-zero key (valid per RFC 6455 and free to
apply); frames from the server are split and handed to ``on_message`` with the time they
were read. Pings are answered. This is a measuring instrument, not a general client: use
`gateway.client.Client` for anything else.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable

ZERO_MASK = b"\0\0\0\0"
TEXT, BINARY, CLOSE, PING, PONG = 1, 2, 8, 9, 10


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """A final, masked client frame holding ``payload``."""
    n = len(payload)
    if n < 126:
        header = bytes((0x80 | opcode, 0x80 | n))
    elif n < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return header + ZERO_MASK + payload


def handshake_request(port: int, path: str = "/") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()


class FrameSplitter:
    """Server frames out of a byte stream: data frames to ``on_message``; pings answered
    through ``reply``; a close frame calls ``on_close``."""

    def __init__(self, on_message: Callable[[bytes, int], None],
                 reply: Callable[[bytes], None], on_close: Callable[[], None]) -> None:
        self.on_message, self.reply, self.on_close = on_message, reply, on_close
        self.buffer = bytearray()
        self.received = 0

    def feed(self, data: bytes, now: int) -> None:
        buf = self.buffer
        buf += data
        pos, size = 0, len(buf)
        while size - pos >= 2:
            opcode, length, header = buf[pos] & 0x0F, buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if size - pos < header + length:
                break
            payload = bytes(buf[pos + header : pos + header + length])
            pos += header + length
            if opcode in (TEXT, BINARY):
                self.received += 1
                self.on_message(payload, now)
            elif opcode == PING:
                self.reply(frame(payload, PONG))
            elif opcode == CLOSE:
                self.on_close()
        del buf[:pos]


class RawSocket(asyncio.Protocol):
    def __init__(self, on_message: Callable[[bytes, int], None]) -> None:
        self.splitter = FrameSplitter(on_message, self.send_frames, self._closed_by_peer)
        self.pending = bytearray()  # the handshake response until it is complete
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    @classmethod
    async def connect(cls, port: int, on_message: Callable[[bytes, int], None],
                      path: str = "/") -> RawSocket:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_connection(lambda: cls(on_message), "127.0.0.1", port)
        assert protocol.transport is not None
        protocol.transport.write(handshake_request(port, path))
        await asyncio.wait_for(protocol.open, 10)
        return protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError("closed during the handshake"))

    def send(self, payload: bytes) -> None:
        self.send_frames(frame(payload))

    def send_frames(self, frames: bytes) -> None:
        """Already framed bytes (several frames may be joined)."""
        assert self.transport is not None
        self.transport.write(frames)

    def data_received(self, data: bytes) -> None:
        if self.open.done():
            self.splitter.feed(data, time.time_ns())
            return
        self.pending += data
        end = self.pending.find(b"\r\n\r\n")
        if end < 0:
            return
        status = bytes(self.pending[: self.pending.find(b"\r\n")])
        rest = bytes(self.pending[end + 4 :])
        if b" 101 " not in status:
            self.open.set_exception(ConnectionError(status.decode(errors="replace")))
            return
        self.open.set_result(None)
        if rest:
            self.splitter.feed(rest, time.time_ns())

    def _closed_by_peer(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(b"\x03\xe8", CLOSE))
            self.transport.close()


class BlockingSocket:
    """The same client on a blocking socket, for a generator that times its sends with
    threads (the event loop's timers are only millisecond-precise)."""

    def __init__(self, port: int, on_message: Callable[[bytes, int], None]) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(handshake_request(port))
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            response += chunk
        head, _, rest = response.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(head.decode(errors="replace"))
        self.lock = threading.Lock()
        self.splitter = FrameSplitter(on_message, self.send_frames, self.close)
        self.splitter.feed(rest, time.time_ns())
        self.open = True

    def send_frames(self, frames: bytes) -> None:
        with self.lock:
            self.sock.sendall(frames)

    def read_ready(self) -> None:
        """What the socket holds now (after a poll said it is readable), without blocking."""
        try:
            data = self.sock.recv(1 << 18, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.open = False
            return
        self.splitter.feed(data, time.time_ns())

    def read_forever(self) -> None:
        try:
            while self.open:
                data = self.sock.recv(1 << 18)
                if not data:
                    break
                self.splitter.feed(data, time.time_ns())
        except OSError:
            pass
        self.open = False

    def close(self) -> None:
        if self.open:
            self.open = False
            with contextlib.suppress(OSError):
                self.send_frames(frame(b"\x03\xe8", CLOSE))
                self.sock.shutdown(socket.SHUT_RDWR)
