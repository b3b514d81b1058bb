"""Rate limits shared by every gateway process: token buckets in Redis.

One bucket per name lives in a Redis hash; a Lua script refills it by Redis's own clock
(so the processes' clocks do not matter), takes what it can of what was asked, and answers
in one round trip. A gateway does not pay that round trip per message: it leases a few
tokens at a time (`lease`, 10 % of the burst by default) and spends them locally, asking for
more only when they run out, so across ``P`` processes a key can exceed its bucket by at most
``P x lease`` tokens.

If Redis is unavailable the limiter degrades to a local bucket per key with the full rate in
each process (limits then hold per process, not across them), tries Redis again every
``retry_s``, and goes back to the shared buckets as soon as it answers.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.limits import LocalKeyLimiter

log = logging.getLogger(__name__)

# KEYS[1]: the bucket; ARGV: rate (tokens/s), burst, tokens wanted. Returns {granted,
# milliseconds until one token is there (0 when some were granted)}.
TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = t[1] * 1000 + t[2] / 1000
local held = redis.call('HMGET', KEYS[1], 'tokens', 'ms')
local tokens = tonumber(held[1])
local then_ms = tonumber(held[2])
if tokens == nil then
  tokens = burst
  then_ms = now
end
tokens = math.min(burst, tokens + math.max(0, now - then_ms) * rate / 1000)
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ms', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
local wait = 0
if granted == 0 then
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
return {granted, wait}
"""


@dataclass(frozen=True)
class Grant:
    granted: int
    retry_after_ms: int  # when nothing was granted: until the next token


class RedisBuckets:
    """Token buckets in Redis under ``prefix``; one round trip per call."""

    def __init__(self, redis: Redis, prefix: str = "gridworks") -> None:
        self.redis = redis
        self.prefix = prefix
        self._take = redis.register_script(TAKE)

    async def take(self, name: str, rate: float, burst: float, want: int = 1) -> Grant:
        granted, wait = await self._take(keys=[f"{self.prefix}:rl:{name}"],
                                         args=[rate, burst, want])
        return Grant(int(granted), int(wait))


class SharedLimiter:
    """One limit (``rate`` per second, bursts of ``burst``) per key, shared through Redis
    when it is there (``buckets``), local otherwise."""

    def __init__(self, buckets: RedisBuckets | None, name: str, rate: float, burst: float,
                 lease: int = 0, retry_s: float = 1.0) -> None:
        self.buckets = buckets
        self.name = name
        self.rate = rate
        self.burst = burst
        self.lease = lease or max(1, int(burst // 10))
        self.retry_s = retry_s
        self._leased: dict[str, int] = {}
        self._local = LocalKeyLimiter(rate, burst)
        self._retry_at = 0.0
        self.degraded = buckets is None
        self.failures = 0

    def take_leased(self, key: str) -> bool | None:
        """Spend a leased token without waiting: True, or None when a round trip is needed
        (then call `take`). Without Redis, the local bucket decides."""
        if self._use_local():
            return self._local_take(key)
        tokens = self._leased.get(key, 0)
        if tokens > 0:
            self._leased[key] = tokens - 1
            return True
        return None

    def spendable_now(self, key: str) -> float:
        return math.inf if self._use_local() else self._leased.get(key, 0)

    async def take(self, key: str) -> bool:
        """One token for ``key``: leased if any are left, else from Redis (or locally)."""
        quick = self.take_leased(key)
        if quick is not None:
            return quick
        assert self.buckets is not None
        try:
            grant = await self.buckets.take(f"{self.name}:{key}", self.rate, self.burst,
                                            self.lease)
        except (RedisError, OSError) as exc:
            self._degrade(exc)
            return self._local_take(key)
        if self.degraded:
            log.info("rate limits: Redis is back, limits are shared again")
            self.degraded = False
        if grant.granted == 0:
            return False
        self._leased[key] = grant.granted - 1
        return True

    def _use_local(self) -> bool:
        if self.buckets is None:
            return True
        return self.degraded and time.monotonic() < self._retry_at

    def _local_take(self, key: str) -> bool:
        return self._local.take_leased(key)

    def _degrade(self, exc: BaseException) -> None:
        self.failures += 1
        if not self.degraded:
            log.warning("rate limits: Redis unavailable (%s); limiting per process", exc)
        self.degraded = True
        self._leased.clear()
        self._retry_at = time.monotonic() + self.retry_s

    def status(self) -> dict[str, object]:
        return {"shared": self.buckets is not None and not self.degraded,
                "degraded": self.degraded and self.buckets is not None,
                "failures": self.failures, "lease": self.lease}
