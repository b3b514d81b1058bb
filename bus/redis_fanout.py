"""Market data between processes through Redis: the node's gateway publishes every public
channel's messages, relay gateways on any machine serve them with the same sequence numbers.

Keys, all under ``<prefix>:md:<epoch>`` (the node gateway's run; a restart starts new keys and
the old ones expire after a day):

* ``...:<channel>`` — a Redis Stream per channel: each message is the entry ``<seq>-0`` whose
  field ``f`` is the push exactly as the node sent it (JSON); the last 1,000 are kept
  (``MAXLEN ~``), which is the resume window.
* ``...:snap`` — a hash channel -> the channel's latest snapshot push (its own ``seq``),
  refreshed at most once a second per channel that changed.
* ``...:instruments`` — what ``instruments`` answers.
* ``<prefix>:md:epoch`` — the epoch being published now.

Streams rather than PUBLISH: a reader that blinks (a reconnect, a slow moment) reads on from
the id it had instead of losing messages, and a client can resume on any relay within the
window. Trading never waits for Redis: messages wait in a bounded queue; past it (or while
Redis is away) they are dropped, and relays see the jump in sequence numbers and resync
their clients from the next snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError

if TYPE_CHECKING:
    from gateway.feeds import Published
    from gateway.server import Gateway

log = logging.getLogger(__name__)

RETENTION = 1_000
EXPIRE_S = 86_400
SNAPSHOT_EVERY_S = 1.0
MAX_QUEUED = 100_000


def keys(prefix: str, epoch: int) -> tuple[str, str, str]:
    """(stream key prefix, snapshot hash, instruments) of one epoch."""
    base = f"{prefix}:md:{epoch}"
    return f"{base}:", f"{base}:snap", f"{base}:instruments"


@dataclass
class FanoutStats:
    published: int = 0
    dropped: int = 0
    snapshots: int = 0
    failures: int = 0
    connected: bool = False


class FanoutPublisher:
    """Follows a gateway's public channels and writes them to Redis."""

    def __init__(self, redis: Redis, gateway: Gateway, prefix: str = "gridworks",
                 max_queued: int = MAX_QUEUED) -> None:
        self.redis = redis
        self.gateway = gateway
        self.prefix = prefix
        self.epoch = gateway.epoch
        self.streams, self.snapshots, self.instruments = keys(prefix, self.epoch)
        self.max_queued = max_queued
        self.stats = FanoutStats()
        self._queue: deque[tuple[str, int, bytes]] = deque()
        self._changed: set[str] = set()
        self._snapped_at: dict[str, float] = {}
        self._wake = asyncio.Event()

    def attach(self) -> None:
        self.gateway.public_sinks.append(self.publish)

    def publish(self, messages: list[Published]) -> None:
        """The gateway's sink: one batch's public messages, queued, never waited for."""
        for message in messages:
            if len(self._queue) >= self.max_queued:
                self.stats.dropped += 1
                continue
            self._queue.append((message.channel, message.seq, message.frame("json")))
            self._changed.add(message.channel)
        self._wake.set()

    async def run(self) -> None:
        """Write until cancelled; with Redis away, drop what waits and try again."""
        await self._announce()
        while True:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), SNAPSHOT_EVERY_S)
            try:
                await self._flush()
                await self._snapshot_changed()
                if not self.stats.connected:
                    await self._announce()
            except (RedisError, OSError) as exc:
                if self.stats.connected:
                    log.warning("market-data fan-out: Redis unavailable (%s)", exc)
                self.stats.failures += 1
                self.stats.connected = False
                self.stats.dropped += len(self._queue)
                self._queue.clear()
                await asyncio.sleep(0.2)

    async def _announce(self) -> None:
        try:
            instruments = self.gateway.operations.instruments(None, {})  # type: ignore[arg-type]
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(self.instruments, msgspec.json.encode(instruments), ex=EXPIRE_S)
                pipe.set(f"{self.prefix}:md:epoch", self.epoch)
                await pipe.execute()
            self.stats.connected = True
            self._changed.update(self.gateway.market.channel_names())
        except (RedisError, OSError):
            self.stats.connected = False

    async def _flush(self) -> None:
        if not self._queue:
            return
        batch = list(self._queue)
        self._queue.clear()
        touched: set[str] = set()
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for channel, seq, frame in batch:
                    key = self.streams + channel
                    pipe.xadd(key, {"f": frame}, id=f"{seq}-0", maxlen=RETENTION,
                              approximate=True)
                    touched.add(key)
                for key in touched:
                    pipe.expire(key, EXPIRE_S)
                await pipe.execute(raise_on_error=False)
        except BaseException:
            self.stats.dropped += len(batch)  # relays will see the jump and resync
            raise
        self.stats.published += len(batch)
        self.stats.connected = True

    async def _snapshot_changed(self) -> None:
        now = time.monotonic()
        due = [c for c in self._changed
               if now - self._snapped_at.get(c, 0.0) >= SNAPSHOT_EVERY_S]
        if not due:
            return
        snaps: dict[str, bytes] = {}
        for name in due:
            snapshot = self.gateway.snapshot(self.gateway.feeds.public(name))
            if snapshot is not None:
                snaps[name] = snapshot.frame("json")
            self._snapped_at[name] = now
            self._changed.discard(name)
        if snaps:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(self.snapshots, mapping=snaps)
                pipe.expire(self.snapshots, EXPIRE_S)
                await pipe.execute()
            self.stats.snapshots += len(snaps)

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {"connected": s.connected, "published": s.published, "dropped": s.dropped,
                "snapshots": s.snapshots, "failures": s.failures, "queued": len(self._queue),
                "epoch": self.epoch}


class FanoutReader:
    """A relay's side: the current epoch, snapshots, a channel's kept messages and the live
    stream of many channels."""

    def __init__(self, redis: Redis, prefix: str = "gridworks") -> None:
        self.redis = redis
        self.prefix = prefix

    async def epoch(self) -> int:
        raw = await self.redis.get(f"{self.prefix}:md:epoch")
        return int(raw) if raw is not None else 0

    async def instruments(self, epoch: int) -> list[dict[str, Any]]:
        raw = await self.redis.get(keys(self.prefix, epoch)[2])
        return msgspec.json.decode(raw) if raw else []

    async def snapshot(self, epoch: int, channel: str) -> tuple[int, bytes] | None:
        raw = await self.redis.hget(keys(self.prefix, epoch)[1], channel)
        if raw is None:
            return None
        return int(msgspec.json.decode(raw)["seq"]), raw

    async def since(self, epoch: int, channel: str, seq: int,
                    count: int = RETENTION) -> list[tuple[int, bytes]]:
        """Kept messages after ``seq``, oldest first."""
        entries = await self.redis.xrange(keys(self.prefix, epoch)[0] + channel,
                                          min=f"({seq}-0", count=count)
        return [(_seq(entry_id), fields[b"f"]) for entry_id, fields in entries]

    async def read(self, epoch: int, after: dict[str, int],
                   block_ms: int = 1_000) -> list[tuple[str, int, bytes]]:
        """New messages of the channels, each after its seq (waits up to ``block_ms``)."""
        if not after:
            await asyncio.sleep(block_ms / 1000)
            return []
        base = keys(self.prefix, epoch)[0]
        streams = {base + ch: f"{seq}-0" for ch, seq in after.items()}
        found = await self.redis.xread(streams, block=block_ms, count=1_000)
        out = []
        for key, entries in found or []:
            channel = (key.decode() if isinstance(key, bytes) else key)[len(base):]
            out += [(channel, _seq(entry_id), fields[b"f"]) for entry_id, fields in entries]
        return out


def _seq(entry_id: bytes | str) -> int:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.partition("-")[0])
