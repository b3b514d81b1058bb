"""Order id -> slot: an open-addressing hash table with linear probing.

Order ids are sequence numbers, unbounded and sparse, so a direct array cannot map them.
The table is at least four times the order capacity, keys are never 0 (sequence numbers
start at 1), and deletion shifts later entries back instead of leaving tombstones, so
lookups stay short however long the server runs.

The home slot is the id itself modulo the table size. Ids arrive in increasing order, so
recent orders sit in neighbouring slots and the table stays in cache. A scrambling hash
(Fibonacci) put every lookup on a different cache line and cost about a third of the
whole matching time in the standard benchmark.
"""

from __future__ import annotations

import numpy as np

from engine.fastbook.arena import inline_kernel, kernel

EMPTY = 0
MISSING = -1


@inline_kernel
def _home(key: int, mask: int) -> int:
    return key & mask


@kernel
def put(htab: np.ndarray, mask: int, key: int, value: int) -> None:
    i = _home(key, mask)
    while htab[i, 0] != EMPTY:
        i = (i + 1) & mask
    htab[i, 0] = key
    htab[i, 1] = value


@kernel
def get(htab: np.ndarray, mask: int, key: int) -> int:
    if key <= 0:
        return MISSING
    i = _home(key, mask)
    while htab[i, 0] != EMPTY:
        if htab[i, 0] == key:
            return htab[i, 1]
        i = (i + 1) & mask
    return MISSING


@kernel
def remove(htab: np.ndarray, mask: int, key: int) -> None:
    i = _home(key, mask)
    while htab[i, 0] != key:
        if htab[i, 0] == EMPTY:
            return
        i = (i + 1) & mask
    j = i
    while True:
        j = (j + 1) & mask
        if htab[j, 0] == EMPTY:
            break
        home = _home(htab[j, 0], mask)
        # The entry at j may fill the hole at i only if its home is not cyclically in (i, j].
        stays = i < home <= j if i <= j else home > i or home <= j
        if not stays:
            htab[i, 0] = htab[j, 0]
            htab[i, 1] = htab[j, 1]
            i = j
    htab[i, 0] = EMPTY
    htab[i, 1] = 0
