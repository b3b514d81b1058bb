"""Brokerage and statutory charges, as data with effective dates, in integer paise.

Charges are computed once a day per account and charge category (delivery, intraday,
futures) from the day's buy and sell turnover, like a contract note, and posted to the
ledger at END_OF_DAY. Brokerage is per executed order (0.03% of the order's traded value,
at most ₹20; free for delivery) and is accrued when the order finishes. GST is 18% of
brokerage + exchange charges + SEBI fee; stamp duty applies to buys only.

Every component is rounded half-up to the paisa, except STT, which is rounded to the rupee
per category as contract notes do. Rates follow
the table in effect from 1 Apr 2026 (STT on futures 0.05% of sells); older rows keep past
days reproducible. A rate is a fraction ``num / den`` of turnover.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.types import Product

DELIVERY, INTRADAY, FUTURES = "delivery", "intraday", "futures"
GST = (18, 100)
SEBI = (1, 1_000_000)  # ₹10 per crore
# Brokerage accrues per executed order in the core (`risk.rules.order_brokerage`) and is
# handed to `day_charges` as a total.


@dataclass(frozen=True)
class Rates:
    stt_buy: tuple[int, int]
    stt_sell: tuple[int, int]
    exchange: tuple[int, int]  # NSE transaction charge including the IPFT levy
    stamp_buy: tuple[int, int]


# (effective from YYYYMMDD, category) -> rates. The newest row not after the day applies.
SCHEDULE: list[tuple[int, str, Rates]] = [
    (20241001, DELIVERY, Rates((1, 1_000), (1, 1_000), (307, 10_000_000), (15, 100_000))),
    (20241001, INTRADAY, Rates((0, 1), (25, 100_000), (307, 10_000_000), (3, 100_000))),
    (20241001, FUTURES, Rates((0, 1), (2, 10_000), (183, 10_000_000), (2, 100_000))),
    (20260401, FUTURES, Rates((0, 1), (5, 10_000), (183, 10_000_000), (2, 100_000))),
]


def rates_for(category: str, day: int) -> Rates:
    """The rates in effect on ``day``; days before the table use its oldest rates (the core
    must be able to close any day it is given, including replays of test clocks)."""
    rows = [(since, r) for since, cat, r in SCHEDULE if cat == category]
    if not rows:
        raise ValueError(f"unknown charge category {category!r}")
    current = [r for since, r in rows if since <= day]
    return current[-1] if current else rows[0][1]


def category(segment: str, product: int) -> str:
    if segment == "EQ":
        return DELIVERY if product == Product.CNC else INTRADAY
    return FUTURES


def part(value: int, rate: tuple[int, int]) -> int:
    """``value * rate``, rounded half-up to the paisa (value >= 0)."""
    num, den = rate
    return (2 * value * num + den) // (2 * den)


def part_rupees(value: int, rate: tuple[int, int]) -> int:
    """``value * rate`` rounded half-up to the rupee, in paise (how STT is charged)."""
    num, den = rate
    return (2 * value * num + 100 * den) // (200 * den) * 100


@dataclass(frozen=True)
class Charges:
    brokerage: int = 0
    stt: int = 0
    exchange: int = 0
    sebi: int = 0
    stamp: int = 0
    gst: int = 0

    @property
    def total(self) -> int:
        return self.brokerage + self.stt + self.exchange + self.sebi + self.stamp + self.gst


def day_charges(turnover: dict[str, tuple[int, int]], brokerage: int, day: int) -> Charges:
    """Charges for one account's day: ``turnover`` maps category -> (buy value, sell value);
    ``brokerage`` is what its executed orders accrued."""
    stt = exchange = sebi = stamp = 0
    for name in sorted(turnover):
        buys, sells = turnover[name]
        rates = rates_for(name, day)
        stt += part_rupees(buys, rates.stt_buy) + part_rupees(sells, rates.stt_sell)
        exchange += part(buys + sells, rates.exchange)
        sebi += part(buys + sells, SEBI)
        stamp += part(buys, rates.stamp_buy)
    gst = part(brokerage + exchange + sebi, GST)
    return Charges(brokerage, stt, exchange, sebi, stamp, gst)
