"""The one table of allowed trading-phase changes.

Leaving PRE_OPEN or HALTED for CONTINUOUS runs the call-auction uncross; entering CLOSED
expires every order. Anything not in the table is rejected with INVALID_PHASE_TRANSITION.
"""

from __future__ import annotations

import numpy as np

from engine.layout import CLOSED, CONTINUOUS, HALTED, PRE_OPEN

PHASE_TRANSITIONS: frozenset[tuple[int, int]] = frozenset(
    {
        (CLOSED, PRE_OPEN),
        (CLOSED, CONTINUOUS),
        (PRE_OPEN, CONTINUOUS),
        (PRE_OPEN, HALTED),
        (PRE_OPEN, CLOSED),
        (CONTINUOUS, HALTED),
        (CONTINUOUS, CLOSED),
        (HALTED, PRE_OPEN),
        (HALTED, CONTINUOUS),
        (HALTED, CLOSED),
    }
)


def transition_table() -> np.ndarray:
    """``table[old, new]`` is 1 where the change is allowed (for the numba kernels)."""
    size = max(CLOSED, PRE_OPEN, CONTINUOUS, HALTED) + 1
    table = np.zeros((size, size), dtype=np.int64)
    for old, new in PHASE_TRANSITIONS:
        table[old, new] = 1
    return table
