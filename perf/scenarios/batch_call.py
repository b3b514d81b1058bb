"""Scenario ``batch``: the cost of one small batch, Python call included.

The standard stream is handed over 16 commands at a time, and each call is timed from
Python: (a) the bare kernel call, (b) `FastBook.process_into` (the book's Python API, which
resets the event cursor and checks for room), (c) `Core.apply`, the whole core step a node
runs per group commit (sequence check, client-id pre-checks, pre-trade risk, matching and
the accounts' side, collecting events: on a core whose accounts are funded, so the orders
are accepted and trade as in a node), once with
the batch marked as the node marks it while encoding commands, once unmarked as the journal
hands batches to recovery. Goal: a batch of 16 costs the book at most 5 µs including the
Python-to-numba call.
"""

from __future__ import annotations

import time

import numpy as np

from engine.commands import CommandBatch
from engine.fastbook.arena import G_NEV
from engine.fastbook.kernel import run
from engine.layout import EVENT_WIDTH
from perf import stats
from perf.scenarios.engine_stream import fresh_fast
from perf.streams import core_for_stream, standard_stream

BATCH = 16
GOAL_US = 5.0


def _time_calls(call: object, rows: np.ndarray) -> np.ndarray:
    spent = np.empty(len(rows) // BATCH, dtype=np.int64)
    clock = time.perf_counter_ns
    with stats.quiet_gc():
        for i in range(len(spent)):
            part = rows[i * BATCH : (i + 1) * BATCH]
            t0 = clock()
            call(part)  # type: ignore[operator]
            spent[i] = clock() - t0
    return spent


def main(ops: int = 1_000_000, repeat: int = 1) -> dict[str, object]:
    rows = standard_stream(ops)
    results: dict[str, object] = {"batch": BATCH, "batches": len(rows) // BATCH}

    book = fresh_fast()
    events = np.empty((1 << 16, EVENT_WIDTH), dtype=np.int64)
    arena = book.arena

    def bare(part: np.ndarray) -> None:
        arena[G_NEV] = 0
        run(arena, part, events)

    bare(rows[:1])
    book = fresh_fast()
    arena = book.arena
    results["kernel_call_us"] = stats.percentiles(_time_calls(bare, rows), 1e-3)

    book = fresh_fast()
    results["book_process_into_us"] = stats.percentiles(
        _time_calls(book.process_into, rows), 1e-3)

    core, rows = core_for_stream(rows)
    extras = [None] * BATCH
    no_work: tuple[list[int], list[int]] = ([], [])

    def core_apply(part: np.ndarray) -> None:
        core.apply(CommandBatch(part, extras, no_work))

    def core_apply_unmarked(part: np.ndarray) -> None:
        core.apply(CommandBatch(part, extras))

    half = (len(rows) // 2) // BATCH * BATCH
    results["core_apply_us"] = stats.percentiles(_time_calls(core_apply, rows[:half]), 1e-3)
    results["core_apply_unmarked_us"] = stats.percentiles(
        _time_calls(core_apply_unmarked, rows[half:]), 1e-3)
    p50 = results["book_process_into_us"]["p50"]  # type: ignore[index]
    p99 = results["book_process_into_us"]["p99"]  # type: ignore[index]
    results["goals"] = {"batch of 16 <= 5 us incl. call (book p50 / p99)": {
        "measured": [p50, p99], "met": p99 <= GOAL_US}}
    return results
