"""Aggregated depth of one instrument, kept from the core's BOOK_CHANGED events.

The core reports, per command, the new visible quantity and order count of every price
level it touched, so keeping depth is a matter of setting levels, never of re-reading the
book. Prices are integer paise. Each side keeps its prices sorted (best first) for cheap
top-N views; the published view is the top N levels and each update is the difference
between two such views, which is what a client applies to its copy.
"""

from __future__ import annotations

import bisect
import zlib

import numpy as np

from engine.layout import BUY, ST_BOOK
from engine.snapshot_types import ORDER_FIELDS

Level = tuple[int, int, int]  # price, quantity, orders

_INSTR, _SIDE, _PRICE, _VISIBLE, _STATE = (ORDER_FIELDS.index(f) for f in
                                           ("instr", "side", "price", "visible", "state"))


class Side:
    """One side's levels; ``keys`` sorted ascending, with bids stored negated so that the
    first key is always the best price."""

    def __init__(self, is_bid: bool) -> None:
        self.sign = -1 if is_bid else 1
        self.keys: list[int] = []
        self.levels: dict[int, tuple[int, int]] = {}

    def set(self, price: int, qty: int, orders: int) -> None:
        if qty <= 0:
            if self.levels.pop(price, None) is not None:
                key = self.sign * price
                del self.keys[bisect.bisect_left(self.keys, key)]
            return
        if price not in self.levels:
            bisect.insort(self.keys, self.sign * price)
        self.levels[price] = (qty, orders)

    def top(self, n: int) -> list[Level]:
        out = []
        for key in self.keys[:n]:
            price = self.sign * key
            qty, orders = self.levels[price]
            out.append((price, qty, orders))
        return out

    def best(self) -> Level | None:
        if not self.keys:
            return None
        price = self.sign * self.keys[0]
        return (price, *self.levels[price])


class Depth:
    def __init__(self) -> None:
        self.bids = Side(is_bid=True)
        self.asks = Side(is_bid=False)

    def set(self, side: int, price: int, qty: int, orders: int) -> None:
        (self.bids if side == BUY else self.asks).set(price, qty, orders)

    def top(self, n: int) -> tuple[list[Level], list[Level]]:
        return self.bids.top(n), self.asks.top(n)


def depth_from_book(orders: np.ndarray, instruments: int) -> list[Depth]:
    """Every instrument's depth from the canonical order table of a recovered book."""
    books = [Depth() for _ in range(instruments)]
    sums: dict[tuple[int, int, int], list[int]] = {}
    for row in orders[orders[:, _STATE] == ST_BOOK].tolist():
        key = (row[_INSTR], row[_SIDE], row[_PRICE])
        level = sums.setdefault(key, [0, 0])
        level[0] += row[_VISIBLE]
        level[1] += 1
    for (instr, side, price), (qty, count) in sums.items():
        books[instr].set(side, price, qty, count)
    return books


def diff(old: list[Level], new: list[Level]) -> list[tuple[int, int, int]]:
    """The (price, qty, orders) changes that turn view ``old`` into ``new``; qty 0 removes."""
    before = {p: (q, c) for p, q, c in old}
    after = {p: (q, c) for p, q, c in new}
    changes = [(p, q, c) for p, (q, c) in after.items() if before.get(p) != (q, c)]
    changes += [(p, 0, 0) for p in before if p not in after]
    return changes


def checksum(bids: list[Level], asks: list[Level]) -> int:
    """CRC32 of the view as ``price:qty`` pairs, bids then asks, separated by ``|``: lets a
    client verify its copy after applying an update."""
    text = "|".join(f"{p}:{q}" for p, q, _ in bids) + "#" + "|".join(
        f"{p}:{q}" for p, q, _ in asks)
    return zlib.crc32(text.encode())
