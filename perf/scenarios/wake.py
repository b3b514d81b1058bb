"""Scenario ``wake``: what a core step costs right after the event loop slept, or polled.

A node at a low order rate runs one command per group commit, with the loop idle between
them. This times `Core.apply` of one command of the standard stream at a time, with the
wait before each call made (a) not at all, (b) asleep in the kernel (`select` with a
timeout, as an event loop waits in epoll) and (c) polling (`select` with no timeout in a
loop, as the ``spin`` idle policy of `gridworks.idle` makes the loop do), for gaps of 0.3
and 1 ms. The difference between (b) and (c) is what the idle policy can buy on this
machine: code and data the core lost from its caches while it was halted.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable

import numpy as np

from engine.commands import CommandBatch
from perf import stats
from perf.streams import core_for_stream, standard_stream

GAPS_US = (300, 1_000)
CALLS = 2_000


def asleep(gap_ns: int) -> None:
    select.select([], [], [], gap_ns / 1e9)


def polling(gap_ns: int) -> None:
    end = time.perf_counter_ns() + gap_ns
    while time.perf_counter_ns() < end:
        select.select([], [], [], 0)


def back_to_back(gap_ns: int) -> None:
    return None


def time_lone_commands(rows: np.ndarray, wait: Callable[[int], None],
                       gap_ns: int) -> np.ndarray:
    """Each of ``rows`` applied alone after ``wait(gap_ns)``; the ns each apply took."""
    core, rows = core_for_stream(rows)
    extras: list[None] = [None]
    no_work: tuple[list[int], list[int]] = ([], [])
    spent = np.empty(len(rows), dtype=np.int64)
    clock = time.perf_counter_ns
    with stats.quiet_gc():
        for i in range(len(rows)):
            batch = CommandBatch(rows[i : i + 1], extras, no_work)
            wait(gap_ns)
            t0 = clock()
            core.apply(batch)
            spent[i] = clock() - t0
    return spent


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    rows = standard_stream(ops or CALLS)
    time_lone_commands(rows[:200], back_to_back, 0)  # compile and warm once
    results: dict[str, object] = {"calls": len(rows),
                                  "back_to_back_us": stats.percentiles(
                                      time_lone_commands(rows, back_to_back, 0), 1e-3)}
    for gap in GAPS_US:
        slept = stats.percentiles(time_lone_commands(rows, asleep, gap * 1_000), 1e-3)
        polled = stats.percentiles(time_lone_commands(rows, polling, gap * 1_000), 1e-3)
        results[f"after {gap} us"] = {
            "asleep_us": slept, "polling_us": polled,
            "asleep_over_polling_p50": round(slept["p50"] / polled["p50"], 2)}
    return results
