"""Benchmark-only kernels: the fast book's dispatch (alone, or inside the risk pipeline)
with a cycle counter around each step."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.fastbook.arena import (
    G_EV_ROWS,
    G_LIVE,
    G_NEV,
    address,
    collect_into,
    header,
    unowned,
)
from engine.fastbook.kernel import dispatch, events_bound
from engine.layout import C_KIND
from perf.cycles import cycles
from risk.apply import apply_events
from risk.pipeline import checked, events_needed, is_account_command, require_slotted, step


@njit(cache=True)
def _collect_into(st: int, out: np.ndarray) -> np.ndarray:
    """Point the book's event buffer at ``out``, empty; its header."""
    g = header(st)
    collect_into(g, out)
    g[G_NEV] = 0
    return g


@njit(cache=True)
def _make_room(g: np.ndarray, need: int) -> int:
    """Discard the buffered events if ``need`` more might not fit; how many were dropped."""
    if g[G_EV_ROWS] - g[G_NEV] >= need:
        return 0
    dropped = g[G_NEV]
    g[G_NEV] = 0
    return dropped


@njit(cache=True)
def run_timed(arena: np.ndarray, cmds: np.ndarray, out: np.ndarray,
              spent: np.ndarray) -> int:
    """Apply ``cmds`` one at a time, recording the cycles each took. Events are discarded
    whenever the buffer might not hold the next command's (timing only). Returns the
    number of events produced."""
    st = address(arena)
    g = _collect_into(st, out)
    rows = unowned(cmds)
    produced = 0
    for i in range(rows.shape[0]):
        produced += _make_room(g, events_bound(g[G_LIVE]))
        t0 = cycles()
        dispatch(st, rows[i])
        spent[i] = cycles() - t0
    return produced + g[G_NEV]


@njit(cache=True)
def run_risk_timed(book_arena: np.ndarray, risk_arena: np.ndarray, cmds: np.ndarray,
                   out: np.ndarray, spent: np.ndarray) -> int:
    """As `run_timed` through the risk pipeline, recording per command the cycles of its
    three stages in ``spent`` columns: the checks, the book, the accounting of its events
    (account commands count wholly as accounting). ``out`` must be slotted, as for
    `risk.pipeline.run`."""
    require_slotted(out)
    bst, rst = address(book_arena), address(risk_arena)
    g = _collect_into(bst, out)
    rows = unowned(cmds)
    produced = 0
    for i in range(rows.shape[0]):
        r = rows[i]
        produced += _make_room(g, events_needed(rst, r[C_KIND], g[G_LIVE]))
        t0 = cycles()
        if is_account_command(r[C_KIND]):
            step(bst, rst, r)
            spent[i, 0], spent[i, 1], spent[i, 2] = 0, 0, cycles() - t0
            continue
        row = checked(bst, rst, r)
        t1 = cycles()
        start = g[G_NEV]
        dispatch(bst, row)
        t2 = cycles()
        apply_events(bst, rst, row, start, g[G_NEV])
        spent[i, 0], spent[i, 1], spent[i, 2] = t1 - t0, t2 - t1, cycles() - t2
    return produced + g[G_NEV]
