"""The canonical, backend-independent state of a book.

Both books can export and import this form. It lists every live order with all its fields
in ascending priority (which is FIFO order inside every level and queue), plus each
instrument's phase and last traded price, and the two counters. Slot numbers, free lists and
hash tables are deliberately absent: two books holding the same orders in the same queues
have byte-identical canonical states, whatever their internal layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ORDER_FIELDS: tuple[str, ...] = (
    "oid", "acct", "instr", "side", "type", "tif", "flags", "stp", "price", "trigger",
    "qty", "leaves", "visible", "disclosed", "filled", "state", "prio", "ts",
)
INSTRUMENT_FIELDS: tuple[str, ...] = ("phase", "ltp")


@dataclass(frozen=True, slots=True, eq=False)
class BookState:
    orders: np.ndarray  # (n, len(ORDER_FIELDS)) int64, ascending prio
    instruments: np.ndarray  # (n_instruments, len(INSTRUMENT_FIELDS)) int64
    next_trade_id: int
    next_prio: int

    def same_as(self, other: BookState) -> bool:
        return (
            np.array_equal(self.orders, other.orders)
            and np.array_equal(self.instruments, other.instruments)
            and self.next_trade_id == other.next_trade_id
            and self.next_prio == other.next_prio
        )
