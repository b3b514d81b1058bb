"""Signature nonces in Redis, shared by every gateway process of a deployment (see
`gateway.auth`): a signed login or REST request is accepted by one process only, even
when it is sent again to another.

Each nonce is a key ``<prefix>:nonce:<key id>:<nonce>`` set with NX and an expiry of two
signature windows, so the claim is one round trip and Redis forgets nonces no signature
can still be fresh for. If Redis cannot be reached, each process's own memory still
refuses replays to itself (logged), and the shared check is back with Redis.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RedisNonces:
    def __init__(self, redis: Redis, prefix: str = "gridworks") -> None:
        self.redis = redis
        self.prefix = prefix
        self.degraded = False  # the last claim could not reach Redis

    async def claim(self, key_id: str, nonce: str, ttl_ms: int) -> bool:
        """Whether this is the first use of the nonce with the key anywhere (True also when
        Redis is away: then only this process's memory has checked it)."""
        try:
            first = await self.redis.set(f"{self.prefix}:nonce:{key_id}:{nonce}", b"1",
                                         nx=True, px=ttl_ms)
        except (RedisError, OSError) as exc:
            if not self.degraded:
                log.warning("nonces checked by this process alone: Redis: %s", exc)
            self.degraded = True
            return True
        self.degraded = False
        return bool(first)
