"""A market-data relay: a WebSocket gateway without a core, serving the public channels that a
node's gateway publishes through Redis (`bus.redis_fanout`), with the node's own sequence
numbers, epoch, snapshots and resume window. Run as many as needed, on any machine:

    gridworks relay --redis redis://host:6379/0 --port 8090

The protocol is the WebSocket API's, for market data: ``ping``/``time``, ``instruments``,
``subscribe`` (snapshot, or replay from ``resume`` within the same ``epoch``) and
``unsubscribe``; pushes, array-free frames, heartbeats with each channel's seq. Trading and
account channels stay on the node's gateway (``UNKNOWN_OP`` / ``UNKNOWN_CHANNEL`` here).

Each channel is read from Redis once, whatever the number of subscribers. A gap in the
stream (the publisher dropped messages while Redis was away) holds the channel's updates
until a snapshot at least that recent arrives, which then goes to every subscriber: clients
see a snapshot, never a hole. A reader too slow for the socket gets the same treatment.
When the node's gateway restarts (a new epoch), every connection gets the shutdown notice
and is closed with 1012, so clients come back and resubscribe in the new epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from gateway import ops
from gateway.errors import ApiError, GatewayCode, error_body
from gateway.limits import Limits, TokenBucket
from gateway.protocol import BadFrameError, decode_requests

log = logging.getLogger(__name__)

RETENTION = 1_000
CLOSE_RESTART = 1012


@dataclass
class RelayChannel:
    name: str
    seq: int = -1  # the last message read; -1 before priming
    ring: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=RETENTION))
    snapshot: tuple[int, str] | None = None
    waiting_for: int = -1  # after a gap: updates held until a snapshot this recent
    subscribers: set[RelayConnection] = field(default_factory=set)
    refreshed: float = 0.0  # when the snapshot was last read from Redis (monotonic)

    def since(self, seq: int) -> list[tuple[int, str]] | None:
        if seq > self.seq:
            return None
        if seq == self.seq:
            return []
        if not self.ring or self.ring[0][0] > seq + 1:
            return None
        return [m for m in self.ring if m[0] > seq]


@dataclass(eq=False)
class RelayConnection:
    ws: ServerConnection
    bucket: TokenBucket
    subscriptions: set[str] = field(default_factory=set)
    behind: set[str] = field(default_factory=set)  # channels owed a fresh snapshot
    heartbeats: int = 0

    def send(self, frame: str) -> None:
        broadcast([self.ws], frame)

    def queued(self) -> int:
        transport = self.ws.transport
        return transport.get_write_buffer_size() if transport is not None else 0


class Relay:
    def __init__(self, reader: Any, host: str = "127.0.0.1", port: int = 8090,
                 limits: Limits | None = None) -> None:
        self.reader = reader  # a `bus.redis_fanout.FanoutReader`
        self.host, self.port = host, port
        self.limits = limits or Limits()
        self.epoch = 0
        self.channels: dict[str, RelayChannel] = {}
        self.connections: set[RelayConnection] = set()
        self.symbols: set[str] = set()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._subscribed = asyncio.Event()  # wakes the reader when it followed nothing

    async def start(self) -> None:
        await self._load_epoch()
        self._server = await serve(self._handle, self.host, self.port, compression=None,
                                   max_size=2**20)
        self.port = self._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._tasks = [asyncio.create_task(self._follow(), name="relay-follow"),
                       asyncio.create_task(self._heartbeats(), name="relay-heartbeats")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- connections ---------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        limit = self.limits.messages_per_s
        conn = RelayConnection(ws, TokenBucket(limit, 2 * limit))
        self.connections.add(conn)
        try:
            async for frame in ws:
                await self._dispatch(conn, frame)
        except ConnectionClosed:
            pass
        finally:
            self.connections.discard(conn)
            for name in conn.subscriptions:
                if (channel := self.channels.get(name)) is not None:
                    channel.subscribers.discard(conn)

    async def _dispatch(self, conn: RelayConnection, frame: bytes | str) -> None:
        if not conn.bucket.take():
            self._reply(conn, None, error=error_body(GatewayCode.RATE_LIMITED))
            return
        try:
            requests = decode_requests(frame, "json", self.limits.max_frame)
        except BadFrameError as exc:
            self._reply(conn, exc.request_id, error=exc.body())
            return
        for request in requests:
            try:
                result = await self._operation(conn, request.op, request.args)
            except ApiError as exc:
                self._reply(conn, request.id, error=exc.body())
            else:
                self._reply(conn, request.id, result=result)

    async def _operation(self, conn: RelayConnection, op: str, args: dict) -> Any:
        if op in ("ping", "time"):
            return {"time": time.time_ns(), "seq": 0}
        if op == "instruments":
            return await self.reader.instruments(self.epoch)
        if op == "subscribe":
            return await self._subscribe(conn, ops.parse(args, ops.SubscribeArgs))
        if op == "unsubscribe":
            parsed = ops.parse(args, ops.UnsubscribeArgs)
            gone = [n for n in parsed.channels if n in conn.subscriptions]
            for name in gone:
                conn.subscriptions.discard(name)
                self.channels[name].subscribers.discard(conn)
            return {"unsubscribed": gone}
        raise ApiError(GatewayCode.UNKNOWN_OP, f"no operation {op!r} on a market-data relay: "
                       "trade and follow account channels on the node's gateway")

    async def _subscribe(self, conn: RelayConnection, args: ops.SubscribeArgs) -> dict:
        for name in args.channels:
            kind, _, rest = name.partition(".")
            symbol = rest.partition(".")[0]
            if kind not in ("ticker", "depth", "trades", "candles"):
                raise ApiError(GatewayCode.UNKNOWN_CHANNEL, channel=name)
            if symbol not in self.symbols:
                raise ApiError(GatewayCode.UNKNOWN_SYMBOL, channel=name)
        fresh = {n for n in args.channels if n not in conn.subscriptions}
        if len(conn.subscriptions) + len(fresh) > self.limits.max_subscriptions:
            raise ApiError(GatewayCode.TOO_MANY_SUBSCRIPTIONS,
                           limit=self.limits.max_subscriptions)
        resume = args.resume if args.epoch == self.epoch else {}
        out = {}
        for name in dict.fromkeys(args.channels):
            channel = await self._primed(name)
            conn.subscriptions.add(name)
            channel.subscribers.add(conn)
            out[name] = self._catch_up(conn, channel, resume.get(name))
        self._subscribed.set()
        return {"subscribed": out, "epoch": self.epoch}

    def _catch_up(self, conn: RelayConnection, channel: RelayChannel,
                  resume_from: int | None) -> dict:
        if resume_from is not None and channel.waiting_for < 0:
            missed = channel.since(resume_from)
            if missed is not None:
                for _, frame in missed:
                    conn.send(frame)
                return {"seq": channel.seq, "resumed": True, "replayed": len(missed)}
        self._send_snapshot(conn, channel)
        return {"seq": channel.seq, "resumed": False}

    def _send_snapshot(self, conn: RelayConnection, channel: RelayChannel) -> None:
        """The channel's snapshot and every kept message after it: the state as of its
        current seq."""
        if channel.snapshot is None:
            conn.behind.add(channel.name)
            return
        snap_seq, frame = channel.snapshot
        conn.send(frame)
        for seq, update in channel.ring:
            if seq > snap_seq:
                conn.send(update)
        conn.behind.discard(channel.name)

    async def _primed(self, name: str) -> RelayChannel:
        """The channel, read up to now from Redis (its snapshot, then what follows)."""
        channel = self.channels.get(name)
        if channel is None:
            channel = self.channels[name] = RelayChannel(name)
        if channel.seq < 0:
            found = await self.reader.snapshot(self.epoch, name)
            if found is not None:
                channel.snapshot = (found[0], found[1].decode())
                channel.seq = found[0]
                for seq, frame in await self.reader.since(self.epoch, name, found[0]):
                    channel.ring.append((seq, frame.decode()))
                    channel.seq = seq
        return channel

    def _reply(self, conn: RelayConnection, request_id: Any, result: Any = None,
               error: Any = None) -> None:
        body = ({"id": request_id, "ok": False, "error": error} if error is not None
                else {"id": request_id, "ok": True, "result": result})
        conn.send(msgspec.json.encode(body).decode())

    # --- following Redis -----------------------------------------------------------------------

    async def _follow(self) -> None:
        checked = time.monotonic()
        while True:
            try:
                if time.monotonic() - checked > 2:
                    checked = time.monotonic()
                    if await self.reader.epoch() != self.epoch:
                        await self._restart()
                        continue
                followed = {n: c.seq for n, c in self.channels.items()
                            if c.subscribers and c.seq >= 0}
                if not followed:
                    self._subscribed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._subscribed.wait(), 1.0)
                    continue
                for seq_channel, seq, frame in await self.reader.read(self.epoch, followed):
                    self._deliver(self.channels[seq_channel], seq, frame.decode())
                await self._repair()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: keep serving what is known, retry
                log.warning("relay: reading market data failed (%s)", exc)
                await asyncio.sleep(0.5)

    def _deliver(self, channel: RelayChannel, seq: int, frame: str) -> None:
        if seq <= channel.seq:
            return
        if seq != channel.seq + 1:  # messages lost upstream: a snapshot must come first
            channel.waiting_for = seq - 1
        channel.ring.append((seq, frame))
        channel.seq = seq
        if channel.waiting_for >= 0:
            return
        for conn in list(channel.subscribers):
            if channel.name in conn.behind:
                continue
            if conn.queued() > self.limits.outbound_soft:
                conn.behind.add(channel.name)  # conflate: a snapshot when it drains
                continue
            conn.send(frame)

    async def _repair(self) -> None:
        """Snapshots for channels held after a gap, and for readers that fell behind. Each
        channel's snapshot is read from Redis at most once a second (it changes no faster)."""
        now = time.monotonic()
        for channel in self.channels.values():
            if not channel.subscribers or now - channel.refreshed < 1.0:
                continue
            channel.refreshed = now
            if channel.waiting_for >= 0:
                found = await self.reader.snapshot(self.epoch, channel.name)
                if found is not None and found[0] >= channel.waiting_for:
                    channel.snapshot = (found[0], found[1].decode())
                    channel.waiting_for = -1
                    for conn in channel.subscribers:
                        conn.behind.add(channel.name)
            else:
                fresh = await self.reader.snapshot(self.epoch, channel.name)
                if fresh is not None and (channel.snapshot is None
                                          or fresh[0] > channel.snapshot[0]):
                    channel.snapshot = (fresh[0], fresh[1].decode())
        for conn in list(self.connections):
            for name in list(conn.behind):
                channel = self.channels.get(name)
                if channel is not None and channel.waiting_for < 0 and (
                        conn.queued() <= self.limits.outbound_soft):
                    self._send_snapshot(conn, channel)

    async def _restart(self) -> None:
        """A new epoch upstream: tell every client, close, start over."""
        now = time.time_ns()
        notice = msgspec.json.encode({"ch": "system", "seq": 0, "ts": now,
                                      "data": {"shutdown": {"reconnect_after_ms": 500}}})
        for conn in list(self.connections):
            conn.send(notice.decode())
        await asyncio.sleep(0.05)
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.ws.close(CLOSE_RESTART, "server restart")
        self.channels.clear()
        await self._load_epoch()

    async def _load_epoch(self) -> None:
        self.epoch = await self.reader.epoch()
        self.symbols = {i["symbol"] for i in await self.reader.instruments(self.epoch)}

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.limits.heartbeat_s)
            now = time.time_ns()
            for conn in list(self.connections):
                conn.heartbeats += 1
                seqs = {n: self.channels[n].seq for n in conn.subscriptions}
                conn.send(msgspec.json.encode({
                    "ch": "heartbeat", "seq": conn.heartbeats, "ts": now,
                    "data": {"time": now, "epoch": self.epoch, "seqs": seqs,
                             "stale": []}}).decode())
