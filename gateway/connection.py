"""One client connection: who it is, what it follows, and its outbound buffer.

Everything for the client goes through one ordered queue of encoded frames, written by one
writer task. Whatever is queued when the writer runs goes out as a single frame (an array
of messages), so a burst of updates costs one write. The queue is bounded in bytes:

* above ``outbound_soft``, public channels stop queueing updates; when the queue has
  drained, each of them gets one fresh snapshot instead (conflation to the latest state);
* private channels and replies are never dropped; above ``outbound_hard`` the client is
  warned (SLOW_CONSUMER), and closed if it is still there after ``slow_grace_s``.

One slow client therefore never delays the others: delivery to it is a queue append.

When nothing is queued or being sent and the socket's buffer has room, a message skips the
queue: its frame is held to the end of the current turn of the event loop and written with
whatever else that turn produced for the connection — one write, no task switch; a public
update is framed once and the same bytes go to every subscriber.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from gateway.errors import GatewayCode, error_body
from gateway.feeds import Channel, Published
from gateway.limits import Limits, TokenBucket
from gateway.protocol import Format, Push, Reply, encode, join, wire_frame

CLOSE_SLOW = int(GatewayCode.SLOW_CONSUMER)  # close codes carry the error's number


class Connection:
    def __init__(self, ws: ServerConnection, fmt: Format, ip: str, limits: Limits,
                 snapshot: Callable[[Channel], Published | None],
                 batch_held: set[Connection]) -> None:
        self.ws = ws
        self.fmt = fmt
        self.ip = ip
        self.limits = limits
        self._snapshot = snapshot
        self.account = -1
        self.key_id = ""
        self.scopes = 0
        self.session = ""  # a user's session id, when it logged in with a token
        self.subscriptions: dict[str, Channel] = {}  # wire name -> channel
        self.bucket = TokenBucket(limits.messages_per_s, 2 * limits.messages_per_s)
        self.queue: deque[bytes] = deque()
        self.queued = 0
        self.conflated: set[Channel] = set()
        self.slow_since = 0.0
        self.heartbeats = 0
        self.closed = False
        self._sending = False
        self._corked: list[bytes] = []  # complete frames to write at the end of this turn
        # Connections holding a batch's updates; the gateway writes them out once the batch
        # is published (one write per connection per batch, no callback per subscriber).
        self._batch_held = batch_held
        self._transport = ws.transport
        self._protocol = ws.protocol
        self._wakeup = asyncio.Event()
        self.writer = asyncio.create_task(self._write_loop(), name=f"gw-writer-{ip}")

    # --- queueing ------------------------------------------------------------------------------

    def deliver(self, message: Published, public: bool) -> None:
        # (called once per subscriber per update: the channel is looked up only when a
        # public update might be conflated)
        if public and (self.conflated or self.queued > self.limits.outbound_soft):
            channel = self.subscriptions.get(message.channel)
            if channel is not None and (channel in self.conflated
                                        or self.queued > self.limits.outbound_soft):
                self.conflated.add(channel)
                return
        if self._corked:  # behind what is already held for the connection
            self._corked.append(message.wire(self.fmt))
        elif self._can_write_now():  # held until the batch is published, then one write
            self._corked.append(message.wire(self.fmt))
            self._batch_held.add(self)
        else:
            self._enqueue(message.frame(self.fmt))

    def send(self, message: Published) -> None:
        """A channel message for this connection only (a snapshot, a replay)."""
        self._send(message.frame(self.fmt), message.wire(self.fmt))

    def reply(self, request_id: Any, result: Any = None, error: Any = None) -> None:
        self._send(encode(Reply(request_id, error is None, result, error), self.fmt))

    def push(self, channel: str, data: Any, ts: int, seq: int = 0) -> None:
        """A message that belongs to no shared channel (heartbeats, notices)."""
        self._send(encode(Push(channel, seq, ts, data), self.fmt))

    def _send(self, frame: bytes, wire: bytes | None = None) -> None:
        """``frame`` held to the end of this turn when it may go now, else queued; ``wire``
        is its complete WebSocket frame when already built."""
        if self._corked or self._can_write_now():
            self._cork(wire or wire_frame(frame, self.fmt))
        else:
            self._enqueue(frame)

    def _cork(self, wire: bytes) -> None:
        """Hold the frame until the end of this turn of the event loop, so that everything
        a batch produces for this connection leaves in one write."""
        if not self._corked:
            asyncio.get_running_loop().call_soon(self.flush)
        self._corked.append(wire)

    def flush(self) -> None:
        """Write what is held for the connection, in one write."""
        wires, self._corked = self._corked, []
        if wires and not self.closed and self._protocol.state is State.OPEN:
            self._transport.write(b"".join(wires))

    def flush_held(self) -> None:
        """`flush`, for a batch's updates held in the same turn: the connection was open
        when they were held, and only closing it (which flushes first) changes that
        within a turn."""
        wires, self._corked = self._corked, []
        if wires and not self.closed:
            self._transport.write(b"".join(wires))

    def _can_write_now(self) -> bool:
        """Nothing ahead of this message and room in the socket's buffer: writing it now
        keeps the order and needs no back-pressure."""
        return (not self.queue and not self._sending and not self.closed
                and self._protocol.state is State.OPEN
                and self._transport.get_write_buffer_size() < self.limits.write_buffer)

    def _enqueue(self, frame: bytes) -> None:
        if self.closed:
            return
        self.queue.append(frame)
        self.queued += len(frame)
        self._wakeup.set()
        if self.queued > self.limits.outbound_hard:
            self._too_slow()

    def _too_slow(self) -> None:
        now = time.monotonic()
        if not self.slow_since:
            self.slow_since = now
            warning = error_body(GatewayCode.SLOW_CONSUMER,
                                 detail={"queued_bytes": self.queued})
            frame = encode(Push("system", 0, time.time_ns(), {"warning": warning}), self.fmt)
            self.queue.append(frame)
            self.queued += len(frame)
        elif now - self.slow_since > self.limits.slow_grace_s:
            self.close(CLOSE_SLOW, "SLOW_CONSUMER")

    # --- writing -------------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        text = self.fmt == "json"
        try:
            while not self.closed:
                await self._wakeup.wait()
                self._wakeup.clear()
                while self.queue:
                    self.flush()  # frames held this turn are older than the queue
                    frames = list(self.queue)
                    self.queue.clear()
                    self.queued = 0
                    self._sending = True
                    try:
                        await self.ws.send(join(frames, self.fmt), text=text)
                    finally:
                        self._sending = False
                    if not self.queue:
                        self._refresh_conflated()
                if self.slow_since and self.queued < self.limits.outbound_soft:
                    self.slow_since = 0.0
        except ConnectionClosed:
            self.closed = True

    def _refresh_conflated(self) -> None:
        """The queue drained: channels that skipped updates get their latest state."""
        while self.conflated and self.queued <= self.limits.outbound_soft:
            channel = self.conflated.pop()
            if channel.name in self.subscriptions:
                snapshot = self._snapshot(channel)
                if snapshot is not None:
                    self._enqueue(snapshot.frame(self.fmt))

    def close(self, code: int = 1000, reason: str = "") -> None:
        if self.closed:
            return
        self.flush()  # what was said before closing goes out before the close frame
        self.closed = True
        self._wakeup.set()
        self._closing = asyncio.ensure_future(self.ws.close(code, reason))

    async def finish(self) -> None:
        self.closed = True
        self._wakeup.set()
        self.writer.cancel()
        await asyncio.gather(self.writer, return_exceptions=True)
