"""The fast book's order-id index against a dict, under heavy collisions."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.fastbook import index


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(1, 200)), max_size=300))
def test_index_matches_a_dict(ops: list[tuple[bool, int]]) -> None:
    size = 16  # tiny table, keys up to 200: long probe chains that wrap around the end
    table = np.zeros((size, 2), dtype=np.int64)
    model: dict[int, int] = {}
    for insert, key in ops:
        if insert and key not in model and len(model) < size - 1:
            index.put(table, size - 1, key, key * 7)
            model[key] = key * 7
        elif not insert and key in model:
            index.remove(table, size - 1, key)
            del model[key]
        for k in range(1, 201):
            assert index.get(table, size - 1, k) == model.get(k, index.MISSING)
    assert int(np.count_nonzero(table[:, 0])) == len(model)
