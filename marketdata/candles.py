"""OHLCV candles per instrument and interval, built from trades.

Bars are aligned to Indian time (a 1h bar covers 10:00-11:00 IST, a 1d bar one Indian
calendar day) and exist only for periods that traded. Each series keeps a bounded history
for the snapshot a subscriber gets first.
"""

from __future__ import annotations

from collections import deque

import msgspec

NS = 1_000_000_000
IST_OFFSET_NS = 19_800 * NS
INTERVALS: dict[str, int] = {
    "1s": NS, "1m": 60 * NS, "5m": 300 * NS, "15m": 900 * NS, "1h": 3_600 * NS,
    "1d": 86_400 * NS,
}


class Candle(msgspec.Struct, array_like=True):
    """``[start, open, high, low, close, volume, trades]``; start in ns since the epoch."""

    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int


class CandleSeries:
    def __init__(self, interval: str, history: int = 500) -> None:
        self.interval = interval
        self.width = INTERVALS[interval]
        self.bars: deque[Candle] = deque(maxlen=history)

    def start_of(self, ts: int) -> int:
        return (ts + IST_OFFSET_NS) // self.width * self.width - IST_OFFSET_NS

    def add(self, ts: int, price: int, qty: int) -> Candle:
        """Fold one trade in; the bar it landed in (the plain form `add_all` is checked
        against)."""
        start = self.start_of(ts)
        bars = self.bars
        if bars and bars[-1].start == start:
            bar = bars[-1]
            bar.high = max(bar.high, price)
            bar.low = min(bar.low, price)
            bar.close = price
            bar.volume += qty
            bar.trades += 1
            return bar
        bar = Candle(start, price, price, price, price, qty, 1)
        bars.append(bar)
        return bar

    def add_all(self, trades: list[tuple[int, int, int]]) -> list[Candle]:
        """Fold in (ts, price, qty) trades in time order; the bars they landed in."""
        changed: list[Candle] = []
        bars, width = self.bars, self.width
        bar = bars[-1] if bars else None
        for ts, price, qty in trades:
            start = (ts + IST_OFFSET_NS) // width * width - IST_OFFSET_NS  # start_of, inlined
            if bar is not None and bar.start == start:
                if price > bar.high:
                    bar.high = price
                elif price < bar.low:
                    bar.low = price
                bar.close = price
                bar.volume += qty
                bar.trades += 1
            else:
                bar = Candle(start, price, price, price, price, qty, 1)
                bars.append(bar)
            if not changed or changed[-1] is not bar:
                changed.append(bar)
        return changed

    def history(self) -> list[Candle]:
        return list(self.bars)
