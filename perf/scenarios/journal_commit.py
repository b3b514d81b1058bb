"""Scenario ``journal``: what durability costs, per group commit and per command.

For each policy (``fsync``: one fdatasync per group commit; ``os``: left to the OS page
cache) and each group size (commands per commit), frames of the standard stream are
appended and flushed in a loop for a fixed time on the project's disk. Reported: commits
per second, commands per second, and the latency of one commit (p50/p99/p99.9, µs). The
fsync figures are the floor of the order-to-acknowledgement latency under that policy.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from engine import journal
from engine.commands import CommandBatch
from perf import stats
from perf.streams import CACHE, standard_stream

GROUPS = (1, 16, 256)
SECONDS = 2.0


def measure(directory: Path, policy: str, group: int, rows: np.ndarray) -> dict[str, object]:
    writer = journal.JournalWriter(directory, 2, policy=policy)  # type: ignore[arg-type]
    latencies: list[int] = []
    start = 0
    deadline = time.perf_counter() + SECONDS
    clock = time.perf_counter_ns
    with stats.quiet_gc():
        while time.perf_counter() < deadline and start + group <= len(rows):
            part = rows[start : start + group]
            t0 = clock()
            writer.append(CommandBatch(part, [None] * group))
            writer.flush()
            latencies.append(clock() - t0)
            start += group
    writer.close()
    commits = len(latencies)
    elapsed = sum(latencies) / 1e9
    return {
        "commits_per_s": round(commits / elapsed),
        "commands_per_s": round(commits * group / elapsed),
        "commit_us": stats.percentiles(np.array(latencies), 1e-3),
    }


def main(ops: int = 1_000_000, repeat: int = 1) -> dict[str, object]:
    rows = standard_stream(ops)
    CACHE.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {"seconds_per_case": SECONDS, "directory": "perf/.cache"}
    for policy in ("fsync", "os"):
        for group in GROUPS:
            directory = Path(tempfile.mkdtemp(prefix="journal-", dir=CACHE))
            try:
                results[f"{policy}/{group}"] = measure(directory, policy, group, rows)
            finally:
                shutil.rmtree(directory, ignore_errors=True)
    return results
