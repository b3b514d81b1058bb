"""Public market data against the book: a client applying snapshots and updates always holds
the same depth as the core, trades and candles add up, tickers follow."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.commands import CommandBatch
from engine.core import Core, CoreConfig
from engine.sequencer import CountingClock, Sequencer
from marketdata.candles import INTERVALS, CandleSeries
from marketdata.depth import Depth, checksum, depth_from_book
from marketdata.hub import Candles, DepthView, MarketData, Ticker, Trades
from tests.engine.flow import Flow

LEVELS = 5


class DepthCopy:
    """What a client does with the depth channel."""

    def __init__(self, snapshot: DepthView) -> None:
        assert snapshot.snapshot
        self.bids = {p: (q, c) for p, q, c in snapshot.bids}
        self.asks = {p: (q, c) for p, q, c in snapshot.asks}

    def apply(self, update: DepthView) -> None:
        assert not update.snapshot
        for side, changes in ((self.bids, update.bids), (self.asks, update.asks)):
            for p, q, c in changes:
                if q == 0:
                    side.pop(p, None)
                else:
                    side[p] = (q, c)

    def view(self) -> tuple[list, list]:
        bids = [(p, *self.bids[p]) for p in sorted(self.bids, reverse=True)]
        asks = [(p, *self.asks[p]) for p in sorted(self.asks)]
        return bids, asks


class Market:
    """A core trading the flow's random commands, a batch at a time."""

    def __init__(self, seed: int) -> None:
        self.flow = Flow(seed)
        self.core = Core(CoreConfig(book="fast", max_orders=400, max_accounts=8,
                                    initial_levels=2048, risk=False))
        self.sequencer = Sequencer(1, CountingClock())
        self.core.apply(self.sequencer.stamp(CommandBatch.of(self.flow.setup())))
        self.sizes = random.Random(seed)

    def step(self) -> np.ndarray:
        """The events of one more batch of 1, 4 or 16 commands."""
        commands = self.flow.commands(self.sizes.choice([1, 4, 16]), self.sequencer.next_seq)
        return self.core.apply(self.sequencer.stamp(CommandBatch.of(list(commands))))


@pytest.mark.parametrize("seed", [1, 2])
def test_clients_following_the_channels_agree_with_the_book(seed: int) -> None:
    market = Market(seed)
    core = market.core
    md = MarketData(core.specs, core.book.state(), depth_levels=LEVELS)
    copies = {s.symbol: DepthCopy(md.snapshot(f"depth.{s.symbol}")) for s in core.specs}
    volume = {s.symbol: 0 for s in core.specs}
    one_minute = {s.symbol: CandleSeries("1m") for s in core.specs}
    seen = set()
    published: list[tuple[Ticker, int]] = []  # kept for resume: must not change later
    for _ in range(400):
        events = market.step()
        for channel, payload in md.apply(events, core.specs):
            seen.add(channel.split(".")[0])
            symbol = channel.split(".")[1]
            if isinstance(payload, DepthView):
                copies[symbol].apply(payload)
                bids, asks = copies[symbol].view()
                assert payload.checksum == checksum(bids, asks)
            elif isinstance(payload, Trades):
                for t in payload.trades:
                    volume[symbol] += t.qty
                    one_minute[symbol].add(t.ts, t.price, t.qty)
            elif isinstance(payload, Candles) and payload.interval == "1m":
                assert payload.bars[-1] == one_minute[symbol].bars[-1]
            elif isinstance(payload, Ticker):
                assert payload.volume == volume[symbol]
                published.append((payload, payload.volume))
        truth = depth_from_book(core.book.state().orders, len(core.specs))
        for instr, spec in enumerate(core.specs):
            assert copies[spec.symbol].view() == truth[instr].top(LEVELS), spec.symbol
            ticker = md.snapshot(f"ticker.{spec.symbol}")
            best_bid = truth[instr].bids.best()
            assert ticker.bid == (best_bid[0] if best_bid else 0)
    assert seen == {"depth", "trades", "ticker", "candles"}
    assert sum(volume.values()) > 0
    assert all(ticker.volume == then for ticker, then in published)


def test_depth_levels_stay_sorted_and_vanish_at_zero() -> None:
    d = Depth()
    for price, qty in ((100, 5), (102, 1), (101, 2), (99, 4)):
        d.set(0, price, qty, 1)
        d.set(1, price + 10, qty, 1)
    assert [p for p, _, _ in d.bids.top(10)] == [102, 101, 100, 99]
    assert [p for p, _, _ in d.asks.top(2)] == [109, 110]
    d.set(0, 102, 0, 0)
    d.set(0, 102, 0, 0)  # removing an absent level is harmless
    assert d.bids.best() == (101, 2, 1)


def test_candles_align_to_indian_time_and_roll() -> None:
    series = CandleSeries("1h")
    ten_am_ist = 1_700_000_000 * 10**9 // INTERVALS["1h"] * INTERVALS["1h"] + 1_800 * 10**9
    first = series.add(ten_am_ist, 100, 1)
    series.add(ten_am_ist + 60 * 10**9, 105, 2)
    assert (first.open, first.high, first.close, first.volume, first.trades) == (
        100, 105, 105, 3, 2)
    later = series.add(first.start + INTERVALS["1h"], 90, 1)
    assert later.start == first.start + INTERVALS["1h"]
    assert [b.close for b in series.history()] == [105, 90]
    day = CandleSeries("1d")
    midnight_ist = day.start_of(ten_am_ist)
    assert (midnight_ist + 19_800 * 10**9) % INTERVALS["1d"] == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3 * 10**9), st.integers(1, 10**6),
                          st.integers(1, 1_000)), min_size=1, max_size=60),
       st.lists(st.integers(1, 8), min_size=1, max_size=60), st.sampled_from(list(INTERVALS)))
def test_a_batch_of_trades_folds_into_the_bars_one_trade_at_a_time_would_make(
        moves: list[tuple[int, int, int]], cuts: list[int], interval: str) -> None:
    ts, trades = 1_700_000_000 * 10**9, []
    for gap, price, qty in moves:
        ts += gap
        trades.append((ts, price, qty))
    one_by_one, batched = CandleSeries(interval), CandleSeries(interval)
    start = 0
    for cut in [*cuts, len(trades)]:
        batch, start = trades[start:start + cut], start + cut
        touched = {one_by_one.add(*t).start: None for t in batch}
        changed = batched.add_all(batch)
        assert [bar.start for bar in changed] == list(touched)
        assert changed == [bar for bar in one_by_one.history() if bar.start in touched]
        if start >= len(trades):
            break
    assert batched.history() == one_by_one.history()


def test_unknown_channels_have_no_snapshot() -> None:
    core = Core(CoreConfig(book="reference", max_orders=16, max_accounts=4, risk=False))
    md = MarketData(core.specs, core.book.state())
    assert md.snapshot("ticker.NOPE") is None
    assert md.snapshot("quotes.X") is None


@pytest.mark.parametrize("seed", [3, 4])
def test_channels_nobody_follows_are_not_built_and_a_late_snapshot_is_current(
        seed: int) -> None:
    """A hub asked only for the channels someone follows gives exactly the updates of those
    channels that a hub building everything gives, from the moment each is followed; the
    snapshot that starts a channel late is the same in both."""
    market = Market(seed)
    core = market.core
    every = MarketData(core.specs, core.book.state(), depth_levels=LEVELS)
    lazy = MarketData(core.specs, core.book.state(), depth_levels=LEVELS)
    names = every.channel_names()
    rnd = random.Random(seed)
    followed: set[str] = set()
    skipped = 0
    for step in range(400):
        if step % 40 == 20:  # someone subscribes to a few more channels: snapshot first
            unfollowed = sorted(set(names) - followed)
            for name in rnd.sample(unfollowed, min(2, len(unfollowed))):
                assert lazy.snapshot(name, 1) == every.snapshot(name, 1), name
                followed.add(name)
        events = market.step()
        built = every.apply(events, core.specs)
        wanted = [(name, payload) for name, payload in built if name in followed]
        assert lazy.apply(events, core.specs, followed.__contains__) == wanted
        skipped += len(built) - len(wanted)
    assert skipped > 0
    assert any(name.startswith("depth.") for name in followed)
    for name in names:  # whatever was never followed still snapshots as the book stands
        assert lazy.snapshot(name, 1) == every.snapshot(name, 1), name
