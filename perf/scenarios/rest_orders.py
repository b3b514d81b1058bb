"""Scenario ``rest``: REST order placement at a fixed arrival rate.

The benchmark server (`perf.bench_server --rest`: a real node, WebSocket gateway and REST API
on uvicorn in one process, journal OS-buffered) takes signed ``POST /orders`` from a load
generator in another process (`perf.rest_loadgen`) at each rate for ``SECONDS``; latency is
from each order's due time to its reply (the order is then durable in the journal). Reported
per rate: p50/p90/p99/p99.9 in ms, and how many replies were not 200.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from perf import processes, stats

SECONDS = 5.0
RATES = (200, 1_000, 2_000, 4_000)


def measure(rate: int, seconds: float) -> dict[str, object]:
    with processes.scratch() as scratch, processes.server("os", 4, rest=True) as srv:
        out = scratch / "rest.npy"
        done = subprocess.run(
            [sys.executable, "-m", "perf.rest_loadgen", "--port", str(srv.rest_port),
             "--keys", json.dumps(srv.keys), "--rate", str(rate), "--seconds", str(seconds),
             "--out", str(out)], capture_output=True, text=True, timeout=seconds + 120,
            check=True)
        latencies = np.load(out)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {"offered_per_s": rate, **summary, "latency_ms": stats.percentiles(latencies, 1e-6)}


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    seconds = float(ops) if ops else SECONDS
    return {"seconds_per_rate": seconds,
            **{str(rate): measure(rate, seconds) for rate in RATES}}
