"""Who leads a shard: a lease in Redis that names one holder, and the epoch it hands out.

The lease only decides who *tries* to lead; the log's fencing rule (`engine.commandlog`)
is what keeps two leaders from both acting, so a lease that two processes believe they hold
for a moment (a pause longer than its time to live, a Redis failover) costs no correctness.

* ``<prefix>:shard:<K>:leader`` — the holder's id, with a time to live the holder renews.
* ``<prefix>:shard:<K>:epoch`` — the last epoch handed out. A winner's epoch is one above
  both this and the newest epoch it has seen in the log, so a Redis that lost its data
  still hands out epochs the log accepts.
"""

from __future__ import annotations

from redis.asyncio import Redis

_NEXT_EPOCH = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if floor > current then current = floor end
current = current + 1
redis.call('SET', KEYS[1], current)
return current
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    def __init__(self, redis: Redis, prefix: str, shard: int, holder: str,
                 ttl_ms: int = 1_000) -> None:
        self.redis = redis
        self.holder = holder
        self.ttl_ms = ttl_ms
        self.key = f"{prefix}:shard:{shard}:leader"
        self.epoch_key = f"{prefix}:shard:{shard}:epoch"
        self._next_epoch = redis.register_script(_NEXT_EPOCH)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self, seen_epoch: int) -> int | None:
        """A new epoch if the lease was free and is now ours, else None."""
        if not await self.redis.set(self.key, self.holder, nx=True, px=self.ttl_ms):
            return None
        return int(await self._next_epoch(keys=[self.epoch_key], args=[seen_epoch]))

    async def renew(self) -> bool:
        """Extend the lease; False when it is no longer ours."""
        return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))

    async def release(self) -> None:
        await self._release(keys=[self.key], args=[self.holder])

    async def current_holder(self) -> str | None:
        value = await self.redis.get(self.key)
        return value.decode() if value is not None else None
