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


class Sequencer:
    def __init__(self, next_seq: int, clock: Callable[[], int]) -> None:
        if next_seq < 1:
            raise ValueError("sequence numbers start at 1")
        self.next_seq = next_seq
        self._clock = clock

    def stamp(self, batch: CommandBatch, at: int | None = None) -> CommandBatch:
        """Number the batch's commands in order and stamp them with one acceptance time:
        ``at``, or the clock's reading."""
        rows = batch.rows
        n = rows.shape[0]
        seqs = np.arange(self.next_seq, self.next_seq + n, dtype=np.int64)
        rows[:, C_SEQ] = seqs
        rows[:, C_TS] = self._clock() if at is None else at
        new_orders = rows[:, C_KIND] == K_NEW_ORDER
        rows[new_orders, C_OID] = seqs[new_orders]
        self.next_seq += n
        return batch


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
