"""Benchmark-only kernels: the fast book's dispatch with a cycle counter around each step."""

from __future__ import annotations

import numpy as np
from numba import njit

from engine.fastbook.arena import G_EV_ADDR, G_EV_ROWS, G_LIVE, G_NEV, address, header, unowned
from engine.fastbook.kernel import dispatch, events_bound
from perf.cycles import cycles


@njit(cache=True)
def run_timed(arena: np.ndarray, cmds: np.ndarray, out: np.ndarray,
              spent: np.ndarray) -> int:
    """Apply ``cmds`` one at a time, recording the cycles each took. Events are discarded
    whenever the buffer might not hold the next command's (timing only). Returns the
    number of events produced."""
    st = address(arena)
    g = header(st)
    g[G_EV_ADDR] = address(out)
    g[G_EV_ROWS] = out.shape[0]
    rows = unowned(cmds)
    produced = 0
    g[G_NEV] = 0
    for i in range(rows.shape[0]):
        if g[G_EV_ROWS] - g[G_NEV] < events_bound(g[G_LIVE]):
            produced += g[G_NEV]
            g[G_NEV] = 0
        t0 = cycles()
        dispatch(st, rows[i])
        spent[i] = cycles() - t0
    return produced + g[G_NEV]
