"""A real-time leaderboard of the day's P&L in a Redis sorted set, for accounts that opt in,
under codenames (never account names).

* ``<prefix>:lb:names`` maps account -> codename and ``<prefix>:lb:owners`` codename ->
  account, so a codename belongs to one account (claimed with HSETNX).
* ``<prefix>:lb:day:<YYYY-MM-DD>`` holds codename -> P&L in paise for one Indian trading day;
  it expires two days later.

`publish` rewrites the scores of every member in one pipeline; the node calls it about once
a second with each member's realised plus unrealised P&L at the last prices.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

CODENAME = re.compile(r"[a-z][a-z0-9-]{2,23}")
KEEP_S = 2 * 86_400


class CodenameError(ValueError):
    """A codename that is malformed or already someone else's."""


@dataclass(frozen=True)
class Standing:
    rank: int  # 1 = best
    codename: str
    pnl: int  # paise


class Leaderboard:
    def __init__(self, redis: Redis, prefix: str = "gridworks") -> None:
        self.redis = redis
        self.names = f"{prefix}:lb:names"
        self.owners = f"{prefix}:lb:owners"
        self.prefix = prefix

    def _day(self, day: str) -> str:
        return f"{self.prefix}:lb:day:{day}"

    async def join(self, account: int, codename: str) -> None:
        """Opt in under ``codename`` (or change it)."""
        codename = codename.lower()
        if not CODENAME.fullmatch(codename):
            raise CodenameError("a codename is 3-24 letters, digits or '-', starting with a "
                                "letter")
        if not await self.redis.hsetnx(self.owners, codename, account):
            owner = await self.redis.hget(self.owners, codename)
            if owner is None or int(owner) != account:
                raise CodenameError(f"the codename {codename!r} is taken")
        previous = await self.redis.hget(self.names, account)
        await self.redis.hset(self.names, account, codename)
        if previous is not None and previous.decode() != codename:
            await self.redis.hdel(self.owners, previous)

    async def leave(self, account: int, day: str) -> None:
        codename = await self.redis.hget(self.names, account)
        if codename is None:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self.names, account)
            pipe.hdel(self.owners, codename)
            pipe.zrem(self._day(day), codename)
            await pipe.execute()

    async def members(self) -> dict[int, str]:
        raw = await self.redis.hgetall(self.names)
        return {int(k): v.decode() for k, v in raw.items()}

    async def publish(self, day: str, pnl: Mapping[int, int]) -> int:
        """Set the day's score of every member given (account -> paise)."""
        names = await self.members()
        scores = {names[a]: value for a, value in pnl.items() if a in names}
        if not scores:
            return 0
        key = self._day(day)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, scores)
            pipe.expire(key, KEEP_S)
            await pipe.execute()
        return len(scores)

    async def top(self, day: str, limit: int = 20) -> list[Standing]:
        rows = await self.redis.zrevrange(self._day(day), 0, limit - 1, withscores=True)
        return [Standing(i + 1, name.decode(), int(score)) for i, (name, score) in
                enumerate(rows)]

    async def standing(self, day: str, account: int) -> Standing | None:
        codename = await self.redis.hget(self.names, account)
        if codename is None:
            return None
        key = self._day(day)
        rank = await self.redis.zrevrank(key, codename)
        score = await self.redis.zscore(key, codename)
        if rank is None or score is None:
            return None
        return Standing(rank + 1, codename.decode(), int(score))
