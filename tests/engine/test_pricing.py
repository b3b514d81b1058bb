"""Integer price rules: band rounding and market protection."""

from __future__ import annotations

import pytest

from engine import pricing
from engine.instruments import demo_instruments, validate


@pytest.mark.parametrize(("ref", "bps", "tick", "lo", "hi"), [
    (10_000, 1_000, 5, 9_000, 11_000),
    (10_003, 1_000, 1, 9_003, 11_003),
    (141_230, 1_000, 5, 127_110, 155_350),  # 127,107 rounds up, 155,353 down to the grid
    (2_153, 2_000, 1, 1_723, 2_583),
])
def test_bands_round_inwards(ref: int, bps: int, tick: int, lo: int, hi: int) -> None:
    assert pricing.band_low(ref, bps, tick) == lo
    assert pricing.band_high(ref, bps, tick) == hi


def test_market_protection_moves_from_the_last_price_inside_the_band() -> None:
    assert pricing.protection_price(True, 10_000, 300, 5, 9_000, 11_000) == 10_300
    assert pricing.protection_price(False, 9_950, 300, 5, 9_000, 11_000) == 9_655
    assert pricing.protection_price(True, 10_900, 300, 5, 9_000, 11_000) == 11_000
    assert pricing.protection_price(False, 9_950, 0, 5, 9_000, 11_000) == 9_000


def test_the_demo_instruments_are_valid() -> None:
    specs = demo_instruments()
    assert len({s.symbol for s in specs}) == len(specs) >= 6
    assert all(validate(s) == 0 for s in specs)
    assert all(s.band_lo % s.tick == 0 and s.band_hi % s.tick == 0 for s in specs)
