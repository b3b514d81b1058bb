"""Scenario ``fanout``: one instrument's depth streamed to many WebSocket subscribers.

A real node and gateway run in their own process. Subscriber connections (split over two
generator processes) follow ``depth.RELIANCE``; a driver in a third process changes the top
of that book 100 times a second (alternately placing and cancelling a bid), so every
subscriber should receive 100 depth updates a second. The latency of an update is from the
moment the core accepted the command that caused it (the push's ``ts``) to its arrival at
the subscriber: journal, publication, fan-out, the network and the client's read.

The goals: p99 within 15 ms with 1,000 subscribers and within 50 ms with 5,000.
"""

from __future__ import annotations

import json
import math

import numpy as np

from perf import processes, stats

SECONDS = 8.0
UPDATES_PER_S = 100
SUBSCRIBERS = (100, 1_000, 5_000)
GENERATORS = 2
GOALS_MS = {1_000: 15.0, 5_000: 50.0}


def measure(subscribers: int, seconds: float) -> dict[str, object]:
    with processes.scratch() as scratch, processes.server("os", 1) as srv:
        readies = [scratch / f"ready-{n}" for n in range(GENERATORS)]
        subs = [processes.generator(
            "subscribe", srv.port, "--connections", subscribers // GENERATORS,
            "--seconds", seconds + 2, "--warmup", 1.0, "--ready", ready,
            out=scratch / f"sub-{n}.npy") for n, ready in enumerate(readies)]
        processes.wait_for_files(readies, timeout=120)
        drive = processes.generator("driver", srv.port, "--keys", json.dumps(srv.keys),
                                    "--rate", UPDATES_PER_S, "--seconds", seconds)
        driven, _ = drive.result(timeout=seconds + 60)
        parts = [s.result(timeout=seconds + 120) for s in subs]
    latencies = np.concatenate([lat for _, lat in parts])
    received = sum(summary["received"] for summary, _ in parts)
    expected = sum(summary["connections"] * updates_since(driven, summary["counted_from_ns"])
                   for summary, _ in parts)
    spans = [max(driven["start_ns"] + driven["sent"] * driven["interval_ns"]
                 - summary["counted_from_ns"], 1.0) / 1e9 for summary, _ in parts]
    figures: dict[str, object] = {
        "subscribers": subscribers, "updates_per_s": UPDATES_PER_S,
        "messages_per_s": round(sum(summary["received"] / span
                                    for (summary, _), span in zip(parts, spans, strict=True))),
        "delivered_share": round(received / expected, 3) if expected else None,
        "driver": driven, "latency_ms": stats.percentiles(latencies, 1e-6),
    }
    goal = GOALS_MS.get(subscribers)
    if goal is not None:
        figures["goal_p99_ms"] = goal
        figures["goal_met"] = bool(figures["latency_ms"].get("p99", 1e18) <= goal)
    return figures


def updates_since(driven: dict, since_ns: int) -> int:
    """The depth updates the driver caused from ``since_ns`` on (each of its commands moves
    the top of the book once; command ``i`` is due at ``start + i * interval``)."""
    first = max(0, math.ceil((since_ns - driven["start_ns"]) / driven["interval_ns"]))
    return max(0, driven["sent"] - first)


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    seconds = SECONDS if not ops else ops / UPDATES_PER_S
    return {"seconds_per_case": seconds,
            **{str(n): measure(n, seconds) for n in SUBSCRIBERS}}
