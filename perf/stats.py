"""Percentiles and summaries in the shape every scenario reports."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

PERCENTILES = (50, 90, 99, 99.9, 99.99)


def percentiles(values: np.ndarray, unit_scale: float = 1.0) -> dict[str, float]:
    """p50 ... p99.99 and max of ``values`` (multiplied by ``unit_scale``)."""
    if len(values) == 0:
        return {}
    qs = np.percentile(values, PERCENTILES) * unit_scale
    out = {f"p{p:g}": round(float(q), 1) for p, q in zip(PERCENTILES, qs, strict=True)}
    out["max"] = round(float(values.max() * unit_scale), 1)
    out["mean"] = round(float(values.mean() * unit_scale), 1)
    return out


def median(values: list[float]) -> float:
    return float(np.median(values))


@contextmanager
def quiet_gc() -> Iterator[None]:
    """No garbage-collection pauses inside a timed section."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
