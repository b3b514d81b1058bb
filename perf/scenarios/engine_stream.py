"""Scenario ``engine``: the standard stream through the reference book and the numba book.

Figures: ops/s of the reference book; ops/s of the numba book handed the stream in
batches of several sizes (median of ``repeat`` runs, each on a fresh book); per-operation
cost inside the kernel from the cycle counter. Before timing anything, both books run the
whole stream once and must agree on trades, volume, notional and the final canonical
state: a fast wrong answer is not a result.
"""

from __future__ import annotations

import time

import numpy as np

from engine.fastbook.arena import G_NEV
from engine.fastbook.book import FastBook
from engine.fastbook.kernel import run
from engine.layout import E_KIND, E_PRICE, E_QTY, EV_TRADED, EVENT_WIDTH
from engine.refbook import ReferenceBook
from engine.types import StpMode
from perf import cycles, stats
from perf.kernels import run_timed
from perf.streams import BENCH_SPEC, standard_stream

BATCH_SIZES = (1, 16, 256, 4096)
GOALS = {"numba_ops_per_s": 10_000_000, "per_op_p99_ns": 200}


def fresh_fast() -> FastBook:
    book = FastBook(max_orders=1 << 16, max_accounts=1_000,
                    stp_default=int(StpMode.CANCEL_INCOMING), levels=8192)
    book.add_instrument(BENCH_SPEC)
    return book


def fresh_reference() -> ReferenceBook:
    book = ReferenceBook(1 << 16, 1_000, int(StpMode.CANCEL_INCOMING))
    book.add_instrument(BENCH_SPEC)
    return book


def _trade_totals(events: np.ndarray) -> tuple[int, int, int]:
    trades = events[events[:, E_KIND] == EV_TRADED]
    notional = int((trades[:, E_QTY] * trades[:, E_PRICE]).sum())
    return len(trades), int(trades[:, E_QTY].sum()), notional


def check(rows: np.ndarray, chunk: int = 4096) -> dict[str, object]:
    """Run both books over the stream and compare; also times the reference book."""
    fast, ref = fresh_fast(), fresh_reference()
    totals = np.zeros(3, dtype=np.int64)
    ref_totals = np.zeros(3, dtype=np.int64)
    ref_seconds = 0.0
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        totals += _trade_totals(fast.process(part))
        t0 = time.perf_counter()
        ref_events = ref.process(part)
        ref_seconds += time.perf_counter() - t0
        ref_totals += _trade_totals(ref_events)
    same = fast.state().same_as(ref.state()) and np.array_equal(totals, ref_totals)
    if not same:
        raise AssertionError("the numba and reference books disagree on the standard stream")
    return {
        "books_agree": True,
        "trades": int(totals[0]),
        "volume": int(totals[1]),
        "notional_paise": int(totals[2]),
        "resting_at_end": len(fast.state().orders),
        "reference_ops_per_s": round(len(rows) / ref_seconds),
        "reference_seconds": round(ref_seconds, 2),
    }


def time_batches(rows: np.ndarray, size: int, repeat: int) -> dict[str, object]:
    runs = []
    for _ in range(repeat):
        book = fresh_fast()
        events = np.empty((1 << 16, EVENT_WIDTH), dtype=np.int64)
        arena = book.arena
        with stats.quiet_gc():
            t0 = time.perf_counter()
            for start in range(0, len(rows), size):
                arena[G_NEV] = 0
                run(arena, rows[start : start + size], events)
            runs.append(len(rows) / (time.perf_counter() - t0))
    return {"ops_per_s": round(stats.median(runs)), "runs": [round(r) for r in runs]}


def time_per_op(rows: np.ndarray) -> dict[str, object]:
    book = fresh_fast()
    spent = np.zeros(len(rows), dtype=np.int64)
    events = np.empty((1 << 16, EVENT_WIDTH), dtype=np.int64)
    run_timed(book.arena, rows[:1000].copy(), events, spent)  # compile and warm
    book = fresh_fast()
    scale = cycles.ns_per_cycle()
    with stats.quiet_gc():
        run_timed(book.arena, rows, events, spent)
    kinds = {"new": rows[:, 0] == 1, "cancel": rows[:, 0] == 2}
    return {
        "all_ns": stats.percentiles(spent, scale),
        **{f"{name}_ns": stats.percentiles(spent[mask], scale) for name, mask in kinds.items()},
        "ns_per_cycle": round(scale, 4),
    }


def main(ops: int = 1_000_000, repeat: int = 3, seed: int = 42) -> dict[str, object]:
    rows = standard_stream(ops, seed)
    result: dict[str, object] = {"ops": len(rows), "seed": seed}
    result["check"] = check(rows)
    result["numba_batches"] = {str(size): time_batches(rows, size, repeat)
                               for size in BATCH_SIZES}
    result["numba_per_op"] = time_per_op(rows)
    best = max(v["ops_per_s"] for v in result["numba_batches"].values())  # type: ignore[index]
    p99 = result["numba_per_op"]["all_ns"]["p99"]  # type: ignore[index]
    result["goals"] = {
        "numba_ops_per_s >= 10M": {"measured": best, "met": best >= GOALS["numba_ops_per_s"]},
        "per_op_p99_ns <= 200": {"measured": p99, "met": p99 <= GOALS["per_op_p99_ns"]},
    }
    return result
