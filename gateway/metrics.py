"""Counters, gauges and latency histograms in the Prometheus text format (version 0.0.4)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable

LATENCY_BUCKETS_S = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                     0.25, 0.5, 1.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1


class Metrics:
    def __init__(self) -> None:
        self.counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self.histograms: dict[str, Histogram] = {}
        self.gauges: dict[str, Callable[[], float]] = {}
        self.help: dict[str, str] = {}

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items())) if labels else ()
        series = self.counters[name]
        series[key] = series.get(key, 0) + amount

    def observe(self, name: str, value: float) -> None:
        histogram = self.histograms.get(name)
        if histogram is None:
            histogram = self.histograms[name] = Histogram()
        histogram.observe(value)

    def gauge(self, name: str, read: Callable[[], float], help_text: str = "") -> None:
        self.gauges[name] = read
        if help_text:
            self.help[name] = help_text

    def text(self) -> str:
        lines: list[str] = []
        for name, series in sorted(self.counters.items()):
            self._head(lines, name, "counter")
            for labels, value in sorted(series.items()):
                lines.append(f"{name}{_labels(labels)} {value:g}")
        for name, read in sorted(self.gauges.items()):
            self._head(lines, name, "gauge")
            lines.append(f"{name} {read():g}")
        for name, h in sorted(self.histograms.items()):
            self._head(lines, name, "histogram")
            cumulative = 0
            for bound, count in zip((*h.buckets, float("inf")), h.counts, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(f'{name}_bucket{{le="{le}"}} {cumulative}')
            lines.append(f"{name}_sum {h.total:g}")
            lines.append(f"{name}_count {h.n}")
        return "\n".join(lines) + "\n"

    def _head(self, lines: list[str], name: str, kind: str) -> None:
        if name in self.help:
            lines.append(f"# HELP {name} {self.help[name]}")
        lines.append(f"# TYPE {name} {kind}")


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{v}"' for k, v in labels)
    return "{" + inner + "}"
