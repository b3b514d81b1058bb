"""Charges against a published worked example (100 shares bought at ₹1000, sold at ₹1010)."""

from __future__ import annotations

import pytest

from engine.layout import CNC, EQ_SEGMENT, MIS
from portfolio import charges
from portfolio.charges import DELIVERY, FUTURES, INTRADAY, day_charges
from risk import rules

PRODUCTS = {INTRADAY: (MIS, EQ_SEGMENT), DELIVERY: (CNC, EQ_SEGMENT)}


def order_brokerage(category: str, turnover: int, day: int) -> int:
    """What the core accrues for one executed order of the category (``day`` for symmetry
    with the dated charges: brokerage does not change with it)."""
    product, segment = PRODUCTS[category]
    return rules.order_brokerage(product, segment, turnover)

DAY = 20261125
BUY, SELL = 100 * 100_000, 100 * 101_000  # paise


def test_intraday_matches_the_worked_example() -> None:
    brokerage = order_brokerage(INTRADAY, BUY, DAY) + order_brokerage(INTRADAY, SELL, DAY)
    c = day_charges({INTRADAY: (BUY, SELL)}, brokerage, DAY)
    assert (c.brokerage, c.stt, c.exchange, c.sebi, c.gst, c.stamp) == (
        4_000, 2_500, 617, 20, 835, 300)
    assert c.total == 8_272  # ₹82.72


def test_delivery_matches_the_worked_example() -> None:
    brokerage = order_brokerage(DELIVERY, BUY, DAY) + order_brokerage(DELIVERY, SELL, DAY)
    c = day_charges({DELIVERY: (BUY, SELL)}, brokerage, DAY)
    assert (c.brokerage, c.stt, c.exchange, c.sebi, c.gst, c.stamp) == (
        0, 20_100, 617, 20, 115, 1_500)
    assert c.total == 22_352  # ₹223.52 (the DP charge on delivery sells is not modelled)


def test_brokerage_is_capped_per_order_and_small_orders_pay_the_percentage() -> None:
    assert order_brokerage(INTRADAY, 10_000 * 100, DAY) == 300  # ₹10,000 traded: ₹3
    assert order_brokerage(INTRADAY, 10_000_000 * 100, DAY) == 2_000
    assert order_brokerage(INTRADAY, 0, DAY) == 0


def test_rates_follow_their_effective_dates() -> None:
    sells = 100_000_000
    before = day_charges({FUTURES: (0, sells)}, 0, 20260331).stt
    after = day_charges({FUTURES: (0, sells)}, 0, 20260401).stt
    assert (before, after) == (20_000, 50_000)  # 0.02% then 0.05% of sells
    assert charges.rates_for(FUTURES, 20200101) == charges.rates_for(FUTURES, 20241001)
    with pytest.raises(ValueError, match="unknown charge category"):
        charges.rates_for("options", DAY)
