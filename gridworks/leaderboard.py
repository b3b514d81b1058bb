"""The node's side of the leaderboard: about once a second, every member's day P&L (realised
plus unrealised at the last prices, in paise) goes to Redis (`store.leaderboard`)."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from risk.rules import IST_OFFSET_S

if TYPE_CHECKING:
    from gateway.server import Gateway
    from store.leaderboard import Leaderboard

log = logging.getLogger(__name__)


def trading_day(ts_ns: int | None = None) -> str:
    """The Indian calendar day of a time (now by default), as YYYY-MM-DD."""
    seconds = (time.time_ns() if ts_ns is None else ts_ns) // 1_000_000_000 + IST_OFFSET_S
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).date().isoformat()


def day_pnl(gateway: Gateway, account: int) -> int:
    return sum(p.realised + p.unrealised for p in gateway.accounts.positions(account).positions)


async def publish_once(gateway: Gateway, board: Leaderboard) -> int:
    members = await board.members()
    return await board.publish(trading_day(), {a: day_pnl(gateway, a) for a in members})


async def run(gateway: Gateway, board: Leaderboard, interval_s: float = 1.0) -> None:
    """Publish until cancelled; a Redis outage costs updates, not the node."""
    while True:
        try:
            await publish_once(gateway, board)
        except (RedisError, OSError) as exc:
            log.warning("leaderboard: not published (%s)", exc)
        await asyncio.sleep(interval_s)
