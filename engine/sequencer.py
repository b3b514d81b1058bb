"""The sequencer: gapless sequence numbers and acceptance time for every command.

It is the only place where time enters the core, and it enters as data: the stamp is a
column of each command row, read from an injected clock (wall time in the node, a counter
in tests). A new order's id is its sequence number, so ids are unique and replay-stable.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.commands import CommandBatch
from engine.layout import C_KIND, C_OID, C_SEQ, C_TS, K_NEW_ORDER

DAY_NS = 86_400 * 10**9
SMALL_BATCH = 4  # up to this many commands are stamped one by one


class Sequencer:
    def __init__(self, next_seq: int, clock: Callable[[], int], order_id_base: int = 0) -> None:
        if next_seq < 1:
            raise ValueError("sequence numbers start at 1")
        self.next_seq = next_seq
        self._clock = clock
        # Added to a new order's sequence number to make its id: 0 on a single node; a
        # cluster shard's own range (`shard_order_ids`), so ids are unique across shards.
        self.order_id_base = order_id_base

    def stamp(self, batch: CommandBatch, at: int | None = None) -> CommandBatch:
        """Number the batch's commands in order and stamp them with one acceptance time:
        ``at``, or the clock's reading."""
        rows = batch.rows
        n = rows.shape[0]
        ts = self._clock() if at is None else at
        if n <= SMALL_BATCH:  # a few scalar writes cost less than the array operations
            kinds = rows[:, C_KIND].tolist()  # read as ints: no numpy scalar comparisons
            for i, seq in enumerate(range(self.next_seq, self.next_seq + n)):
                rows[i, C_SEQ] = seq
                rows[i, C_TS] = ts
                if kinds[i] == K_NEW_ORDER:
                    rows[i, C_OID] = seq + self.order_id_base
        else:
            seqs = np.arange(self.next_seq, self.next_seq + n, dtype=np.int64)
            rows[:, C_SEQ] = seqs
            rows[:, C_TS] = ts
            new_orders = rows[:, C_KIND] == K_NEW_ORDER
            rows[new_orders, C_OID] = seqs[new_orders] + self.order_id_base
        self.next_seq += n
        return batch


ORDER_ID_SPAN = 10**12  # sequence numbers a cluster shard's order ids have room for
# The core's own orders (square-off) take ids from here up, past every shard's span: shard
# K's are SYNTHETIC_ORDER_IDS + K * 10**12 + n, so they name their shard too.
SYNTHETIC_ORDER_IDS = 1 << 48
MAX_SHARDS = 256  # shard 281's ids would reach the core's own


def shard_order_ids(shard: int) -> int:
    """The order id base of a cluster shard: shard K's order ids are K * 10**12 + their
    sequence number (shard 0's are its sequence numbers), so an order id names its shard
    and stays exact in a JavaScript number for thousands of shards."""
    return shard * ORDER_ID_SPAN


def order_shard(order_id: int) -> int:
    """The shard whose sequencer (or whose core, for its own orders) gave this order id."""
    if order_id >= SYNTHETIC_ORDER_IDS:
        order_id -= SYNTHETIC_ORDER_IDS
    return order_id // ORDER_ID_SPAN


class CountingClock:
    """A deterministic clock for tests and tools: each reading advances by ``step``."""

    def __init__(self, start: int = 1_700_000_000_000_000_000, step: int = 1_000) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> int:
        self.now += self.step
        return self.now

    def next_day(self) -> None:
        """Jump a day ahead (after an end of day, so the next one closes a new day)."""
        self.now += DAY_NS
