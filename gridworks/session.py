"""The trading session's automatic commands: marks, intraday square-off, end of day.

Sans-I/O: `SessionSchedule.due` takes the time and whether anything traded since the last
mark, and answers with the commands the node should sequence now. They go through the
sequencer and the journal like any client's, so a replay reproduces them exactly.

- MARK after a batch that traded, at most once per ``mark_interval_ms`` (0: after every
  such batch, negative: never). The node journals and applies it right after the batch,
  in the same group commit, so accounts are valued and margin calls raised as prices
  move; trades that came too soon after the last mark are marked when the interval has
  passed. One mark of 100,000 accounts x 100 instruments takes a few milliseconds, which
  is what the interval bounds.
- SQUARE_OFF of intraday (MIS) positions once a day at ``square_off_at`` (Indian time).
  After a restart past that time on a day not yet closed it runs again, which is harmless:
  it only closes what is still open.
- END_OF_DAY once a day at ``end_of_day_at``, unless the core has closed the day already.
"""

from __future__ import annotations

import datetime as dt

from engine.commands import Command, EndOfDay, Mark, SquareOff
from engine.types import Product
from risk.commands import IST, trading_day

NS_PER_MS = 1_000_000


def clock_time(text: str) -> dt.time | None:
    """``"HH:MM"`` as a time of day; ``""`` (off) as None."""
    if not text:
        return None
    try:
        hours, minutes = text.split(":")
        return dt.time(int(hours), int(minutes))
    except ValueError:
        message = f"expected a time of day as HH:MM (Indian time) or empty, got {text!r}"
        raise ValueError(message) from None


class SessionSchedule:
    def __init__(self, *, mark_interval_ms: int, square_off_at: str, end_of_day_at: str,
                 closed_day: int) -> None:
        self.mark_interval_ns = mark_interval_ms * NS_PER_MS
        self.square_off_at = clock_time(square_off_at)
        self.end_of_day_at = clock_time(end_of_day_at)
        if (self.square_off_at and self.end_of_day_at
                and self.square_off_at > self.end_of_day_at):
            raise ValueError("the intraday square-off must come before the end of the day")
        self.closed_day = closed_day
        self.squared_off_day = 0
        self.last_mark_ns = 0

    def mark_due(self, now_ns: int, traded_since_mark: bool) -> bool:
        """Whether to mark now; the schedule assumes the mark will be sequenced."""
        interval = self.mark_interval_ns
        if interval < 0 or not traded_since_mark or now_ns - self.last_mark_ns < interval:
            return False
        self.last_mark_ns = now_ns
        return True

    def due(self, now_ns: int, traded_since_mark: bool) -> list[Command]:
        """The commands to sequence at ``now_ns``; the schedule assumes they will be."""
        commands: list[Command] = [Mark()] if self.mark_due(now_ns, traded_since_mark) else []
        day, time_of_day = trading_day(now_ns), _local_time(now_ns)
        if day <= self.closed_day:
            return commands
        if (self.square_off_at is not None and time_of_day >= self.square_off_at
                and self.squared_off_day < day):
            commands.append(SquareOff(Product.MIS))
            self.squared_off_day = day
        if self.end_of_day_at is not None and time_of_day >= self.end_of_day_at:
            commands.append(EndOfDay())
            self.closed_day = day
        return commands


def _local_time(now_ns: int) -> dt.time:
    return dt.datetime.fromtimestamp(now_ns / 1e9, IST).time()
