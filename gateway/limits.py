"""Limits of the gateway: token buckets and the numbers a deployment can tune."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol

from gateway.protocol import MAX_FRAME


@dataclass(frozen=True)
class Limits:
    max_frame: int = MAX_FRAME  # larger frames get FRAME_TOO_LARGE; beyond 1 MiB: closed
    messages_per_s: float = 50.0  # per connection, burst twice that
    key_messages_per_s: float = 200.0  # per API key over all its connections
    max_subscriptions: int = 200  # per connection
    connections_per_key: int = 8
    connections_per_ip: int = 64
    outbound_soft: int = 256 * 1024  # queued bytes above which public channels conflate
    outbound_hard: int = 4 * 1024 * 1024  # queued bytes above which a connection is warned
    slow_grace_s: float = 5.0  # then closed if still above the hard limit
    write_buffer: int = 64 * 1024  # bytes the transport holds before the queue backs up
    socket_send_buffer: int = 0  # SO_SNDBUF per connection (0: the OS default)
    max_backlog: int = 20_000  # trading requests waiting for the journal; beyond: SERVER_BUSY
    heartbeat_s: float = 1.0
    login_window_ms: int = 30_000  # a login signature is valid this long around server time
    allowed_origins: tuple[str, ...] = ()  # pages of other origins allowed (same origin is)
    trusted_proxies: tuple[str, ...] = ()  # peers whose X-Forwarded-For names the client


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = field(default_factory=time.monotonic)

    def take(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if self.tokens < 0:
            self.tokens = self.burst
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class KeyLimiter(Protocol):
    """A per-key message limit, possibly shared between gateway processes (`store.ratelimit`).
    `take_leased` answers without waiting when it can (None: call `take`)."""

    def take_leased(self, key: str) -> bool | None: ...

    def spendable_now(self, key: str) -> float:
        """How many `take_leased` calls for ``key`` will answer without a round trip."""
        ...

    async def take(self, key: str) -> bool: ...

    def status(self) -> dict[str, object]: ...


class LocalKeyLimiter:
    """A token bucket per key in this process."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    def take_leased(self, key: str) -> bool:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst)
        return bucket.take()

    def spendable_now(self, key: str) -> float:
        return math.inf  # every answer is this process's own

    async def take(self, key: str) -> bool:
        return self.take_leased(key)

    def status(self) -> dict[str, object]:
        return {"shared": False, "degraded": False}
