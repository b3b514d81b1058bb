"""Public market data from the core's events: ticker, depth, trades and candles.

`MarketData.apply` takes the event rows of one durable batch and answers with the updates
to publish, one per channel that changed, so a busy batch costs one message per channel,
not one per event. Channels are named ``ticker.SYMBOL``, ``depth.SYMBOL``,
``trades.SYMBOL`` and ``candles.SYMBOL.INTERVAL``. `snapshot` gives any channel's current
state, which a new subscriber receives first. No I/O, no clock: time comes from the events
(``now`` only decides staleness).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec
import numpy as np

from engine.instruments import InstrumentSpec
from engine.layout import (
    E_A,
    E_INSTR,
    E_KIND,
    E_OID,
    E_PRICE,
    E_QTY,
    E_SIDE,
    E_TS,
    EV_BOOK_CHANGED,
    EV_DAY_CLOSED,
    EV_PHASE_CHANGED,
    EV_TRADED,
)
from engine.snapshot_types import BookState
from engine.types import AUCTION_AGGRESSOR, Phase, Side
from marketdata.candles import INTERVALS, Candle, CandleSeries
from marketdata.depth import Depth, Level, checksum, depth_from_book, diff

AGGRESSOR = {int(Side.BUY): "buy", int(Side.SELL): "sell", AUCTION_AGGRESSOR: "auction"}


class Ticker(msgspec.Struct):
    symbol: str
    phase: str
    last: int  # paise; 0 before the first trade
    last_qty: int
    last_ts: int
    ref: int  # previous close / reference price
    change: int  # last - ref (0 before the first trade)
    open: int
    high: int
    low: int
    volume: int
    trades: int
    bid: int
    bid_qty: int
    ask: int
    ask_qty: int
    stale: bool = False


class DepthView(msgspec.Struct):
    """A snapshot (``levels`` complete) or an update (``bids``/``asks`` are changes:
    ``[price, qty, orders]``, qty 0 removes the level)."""

    symbol: str
    snapshot: bool
    bids: list[Level]
    asks: list[Level]
    checksum: int


class Trade(msgspec.Struct, array_like=True):
    """``[trade_id, price, qty, aggressor, ts]``."""

    id: int
    price: int
    qty: int
    aggressor: str
    ts: int


class Trades(msgspec.Struct):
    symbol: str
    trades: list[Trade]


class Candles(msgspec.Struct):
    symbol: str
    interval: str
    bars: list[Candle]


Payload = Ticker | DepthView | Trades | Candles


_MARKET_EVENTS = frozenset((EV_BOOK_CHANGED, EV_TRADED, EV_PHASE_CHANGED, EV_DAY_CLOSED))


def _every_channel(name: str) -> bool:
    return True


@dataclass
class Instrument:
    spec: InstrumentSpec
    phase: int
    depth: Depth = field(default_factory=Depth)
    ticker: Ticker | None = None
    published: tuple[list[Level], list[Level]] = ([], [])
    published_stale: bool = False  # the book moved while nobody followed its depth
    recent: list[Trade] = field(default_factory=list)
    candles: dict[str, CandleSeries] = field(default_factory=dict)
    last_update_ts: int = 0


class MarketData:
    def __init__(self, specs: list[InstrumentSpec], book: BookState, depth_levels: int = 20,
                 recent_trades: int = 100, candle_history: int = 500,
                 stale_after_ns: int = 30 * 10**9, started_ns: int = 0) -> None:
        self.started_ns = started_ns
        self.levels = depth_levels
        self.recent_trades = recent_trades
        self.candle_history = candle_history
        self.stale_after_ns = stale_after_ns
        self.instruments: list[Instrument] = []
        self.symbols: dict[str, int] = {}
        depths = depth_from_book(book.orders, len(specs))
        for i, spec in enumerate(specs):
            phase, ltp = (int(v) for v in book.instruments[i])
            self._add(spec, phase, depths[i], ltp)

    def _add(self, spec: InstrumentSpec, phase: int, depth: Depth, ltp: int = 0) -> None:
        inst = Instrument(spec, phase, depth, last_update_ts=self.started_ns)
        inst.candles = {name: CandleSeries(name, self.candle_history) for name in INTERVALS}
        inst.ticker = Ticker(spec.symbol, Phase(phase).name, ltp, 0, 0, spec.ref_price,
                             ltp - spec.ref_price if ltp else 0, ltp, ltp, ltp, 0, 0,
                             0, 0, 0, 0)
        self._touch_book(inst)
        inst.published = depth.top(self.levels)
        self.symbols[spec.symbol] = len(self.instruments)
        self.instruments.append(inst)

    # --- applying a batch ------------------------------------------------------------------------

    def apply(self, events: np.ndarray | list[list[int]], specs: list[InstrumentSpec],
              wanted: Callable[[str], bool] | None = None) -> list[tuple[str, Payload]]:
        """Fold one batch of event rows in; the (channel, payload) updates it causes.
        ``specs`` is the core's instrument list (it grows when instruments are added).
        With ``wanted``, only the updates of the channels it names are built (the state is
        folded in all the same): a depth nobody follows is not diffed, and its next
        snapshot is taken from the book as it then stands."""
        while len(self.instruments) < len(specs):
            self._add(specs[len(self.instruments)], int(Phase.CLOSED), Depth())
        tickers: set[int] = set()
        books: set[int] = set()
        trades: dict[int, list[Trade]] = {}
        rows = events.tolist() if isinstance(events, np.ndarray) else events
        instruments = self.instruments
        for row in rows:
            kind = row[E_KIND]
            if kind not in _MARKET_EVENTS:
                continue
            if kind == EV_DAY_CLOSED:
                tickers.update(self._new_day())
                continue
            instr = row[E_INSTR]
            inst = instruments[instr]
            inst.last_update_ts = row[E_TS]
            if kind == EV_BOOK_CHANGED:
                inst.depth.set(row[E_SIDE], row[E_PRICE], row[E_QTY], row[E_A])
                books.add(instr)
            elif kind == EV_TRADED:
                trade = self._trade(inst, row)
                if instr in trades:
                    trades[instr].append(trade)
                else:
                    trades[instr] = [trade]
                tickers.add(instr)
            else:  # the phase changed
                inst.phase = row[E_A]
                tickers.add(instr)
        bars = {(instr, name): changed for instr, items in trades.items()
                for name, changed in self._fold_candles(instruments[instr], items)}
        wanted = wanted or _every_channel
        out: list[tuple[str, Payload]] = []
        for instr in sorted(books):
            inst = self.instruments[instr]
            if wanted(f"depth.{inst.spec.symbol}"):
                out.extend(self._depth_update(instr))
            else:
                inst.published_stale = True
            tickers.add(instr)
        for instr, items in sorted(trades.items()):
            symbol = self.instruments[instr].spec.symbol
            if wanted(name := f"trades.{symbol}"):
                out.append((name, Trades(symbol, items)))
        for instr in sorted(tickers):
            inst = self.instruments[instr]
            self._touch_book(inst)
            if wanted(name := f"ticker.{inst.spec.symbol}"):
                # A copy: the message may be kept for resume and encoded later, after the
                # live ticker has moved on.
                out.append((name, msgspec.structs.replace(inst.ticker)))  # type: ignore[type-var]
        for (instr, interval), changed in sorted(bars.items()):
            symbol = self.instruments[instr].spec.symbol
            if wanted(name := f"candles.{symbol}.{interval}"):
                out.append((name, Candles(symbol, interval, [msgspec.structs.replace(bar)
                                                             for bar in changed])))
        return out

    def _trade(self, inst: Instrument, row: list[int]) -> Trade:
        price, qty, ts = row[E_PRICE], row[E_QTY], row[E_TS]
        trade = Trade(row[E_OID], price, qty, AGGRESSOR.get(row[E_SIDE], "auction"), ts)
        t = inst.ticker
        assert t is not None
        if t.trades == 0 and t.volume == 0:
            t.open = t.high = t.low = price
        t.last, t.last_qty, t.last_ts = price, qty, ts
        t.high, t.low = max(t.high, price), min(t.low, price) if t.low else price
        t.volume += qty
        t.trades += 1
        t.change = price - t.ref
        inst.recent.append(trade)
        if len(inst.recent) > self.recent_trades:
            del inst.recent[: -self.recent_trades]
        return trade

    @staticmethod
    def _fold_candles(inst: Instrument,
                      trades: list[Trade]) -> list[tuple[str, list[Candle]]]:
        """The batch's trades of one instrument folded into each of its candle series:
        the bars that changed, per interval."""
        ticks = [(t.ts, t.price, t.qty) for t in trades]
        return [(name, series.add_all(ticks)) for name, series in inst.candles.items()]

    def _new_day(self) -> range:
        """After the close: the last price becomes the reference, the day's figures reset."""
        for inst in self.instruments:
            t = inst.ticker
            assert t is not None
            if t.last:
                t.ref = t.last
            t.change = t.volume = t.trades = t.last_qty = 0
            t.open = t.high = t.low = t.last
        return range(len(self.instruments))

    def _depth_update(self, instr: int) -> list[tuple[str, Payload]]:
        inst = self.instruments[instr]
        if inst.published_stale:  # nobody took a snapshot since: there is nothing to diff
            self._refresh_published(inst)
            return []
        bids, asks = inst.depth.top(self.levels)
        old_bids, old_asks = inst.published
        changed_bids, changed_asks = diff(old_bids, bids), diff(old_asks, asks)
        inst.published = (bids, asks)
        if not changed_bids and not changed_asks:
            return []
        view = DepthView(inst.spec.symbol, False, changed_bids, changed_asks,
                         checksum(bids, asks))
        return [(f"depth.{inst.spec.symbol}", view)]

    def _refresh_published(self, inst: Instrument) -> None:
        inst.published = inst.depth.top(self.levels)
        inst.published_stale = False

    def _touch_book(self, inst: Instrument) -> None:
        t = inst.ticker
        assert t is not None
        t.phase = Phase(inst.phase).name
        bid, ask = inst.depth.bids.best(), inst.depth.asks.best()
        t.bid, t.bid_qty = (bid[0], bid[1]) if bid else (0, 0)
        t.ask, t.ask_qty = (ask[0], ask[1]) if ask else (0, 0)

    # --- snapshots -----------------------------------------------------------------------------

    def channel_names(self) -> list[str]:
        """Every public channel of every listed instrument."""
        out = []
        for symbol in self.symbols:
            out += [f"ticker.{symbol}", f"depth.{symbol}", f"trades.{symbol}"]
            out += [f"candles.{symbol}.{interval}" for interval in INTERVALS]
        return out

    def has_channel(self, channel: str) -> bool:
        """Whether ``channel`` names a channel of a listed instrument (`snapshot` would
        give its state)."""
        kind, _, rest = channel.partition(".")
        symbol, _, interval = rest.partition(".")
        if symbol not in self.symbols:
            return False
        if kind == "candles":
            return interval in INTERVALS
        return kind in ("ticker", "depth", "trades") and not interval

    def snapshot(self, channel: str, now_ns: int = 0) -> Payload | None:
        """The current state of a channel (None if there is no such channel)."""
        kind, _, rest = channel.partition(".")
        symbol, _, interval = rest.partition(".")
        instr = self.symbols.get(symbol)
        if instr is None:
            return None
        inst = self.instruments[instr]
        if kind == "ticker" and not interval:
            t = msgspec.structs.replace(inst.ticker)  # type: ignore[type-var]
            t.stale = self.is_stale(inst, now_ns)
            return t
        if kind == "depth" and not interval:
            if inst.published_stale:
                self._refresh_published(inst)
            bids, asks = inst.published
            return DepthView(symbol, True, bids, asks, checksum(bids, asks))
        if kind == "trades" and not interval:
            return Trades(symbol, list(inst.recent))
        if kind == "candles" and interval in INTERVALS:
            return Candles(symbol, interval, inst.candles[interval].history())
        return None

    def is_stale(self, inst: Instrument, now_ns: int) -> bool:
        """Continuous trading, but nothing has happened for ``stale_after_ns``."""
        return (inst.phase == Phase.CONTINUOUS and now_ns > 0
                and now_ns - inst.last_update_ts > self.stale_after_ns)

    def stale_symbols(self, now_ns: int) -> list[str]:
        return [i.spec.symbol for i in self.instruments if self.is_stale(i, now_ns)]


