"""Sessions in Redis, shared by every gateway process (see `gateway.sessions`).

A session is a hash ``<prefix>:sess:{sid}`` (user, current refresh-token hash) and a set
``<prefix>:sess:{sid}:used`` of the hashes already spent, both expiring with the refresh
token; rotation is one Lua script, so two processes refreshing the same token at once cannot
both succeed. The ``{sid}`` hash tag keeps a session's keys in one Redis Cluster slot.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.sessions import SessionsUnavailableError

T = TypeVar("T")

ROTATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 'unknown' end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 'reused'
end
if redis.call('HGET', KEYS[1], 'cur') ~= ARGV[1] then return 'unknown' end
redis.call('HSET', KEYS[1], 'cur', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 'ok'
"""


class RedisSessions:
    def __init__(self, redis: Redis, prefix: str = "gridworks") -> None:
        self.redis = redis
        self.prefix = prefix
        self._rotate = redis.register_script(ROTATE)

    def _keys(self, sid: str) -> tuple[str, str]:
        base = f"{self.prefix}:sess:{{{sid}}}"
        return base, f"{base}:used"

    async def open(self, sid: str, username: str, token_hash: str, ttl_s: int) -> None:
        session, _ = self._keys(sid)

        async def write() -> None:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.hset(session, mapping={"user": username, "cur": token_hash})
                pipe.expire(session, ttl_s)
                await pipe.execute()

        await _reach(write())

    async def owner(self, sid: str) -> str | None:
        user = await _reach(self.redis.hget(self._keys(sid)[0], "user"))
        return user.decode() if isinstance(user, bytes) else user

    async def rotate(self, sid: str, presented: str, replacement: str, ttl_s: int) -> str:
        outcome = await _reach(self._rotate(keys=list(self._keys(sid)),
                                            args=[presented, replacement, ttl_s * 1000]))
        return outcome.decode() if isinstance(outcome, bytes) else str(outcome)

    async def alive(self, sid: str) -> bool:
        return bool(await _reach(self.redis.exists(self._keys(sid)[0])))

    async def revoke(self, sid: str) -> None:
        await _reach(self.redis.delete(*self._keys(sid)))


async def _reach(work: Awaitable[T]) -> T:
    try:
        return await work
    except (RedisError, OSError) as exc:
        raise SessionsUnavailableError(str(exc)) from exc
