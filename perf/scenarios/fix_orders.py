"""Scenario ``fix``: FIX order → ExecutionReport(New) round trips over loopback.

The benchmark server (`perf.bench_server --fix`: a real node, gateway and FIX acceptor in
one process, journal OS-buffered) takes NewOrderSingles from a load generator in another
process (`perf.fix_loadgen`) over one FIX session, at each fixed arrival rate for
``SECONDS``; latency is from each order's due time to its ExecutionReport(New), which the
server sends once the order is durable in the journal. Then one session sends flat out
(``window`` orders in flight) and the acknowledged orders per second are reported.
Goal: p99 <= 1 ms at 10,000 orders/s.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from perf import processes, stats

SECONDS = 5.0
RATES = (1_000, 5_000, 10_000)
FLAT_OUT_ORDERS = 100_000
GOAL_RATE, GOAL_P99_MS = 10_000, 1.0


def loadgen_options(srv: processes.Server) -> list[str]:
    """The generator's session options for the server's first account. Values are joined
    to their flags: a secret may begin with "-", which would otherwise read as a flag."""
    _, key_id, secret = srv.keys[0]
    return [f"--port={srv.fix_port}", "--comp-id=BENCH0", f"--key-id={key_id}",
            f"--secret={secret}"]


def _loadgen(srv: processes.Server, *options: str, timeout: float) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "perf.fix_loadgen", *loadgen_options(srv), *options],
        capture_output=True, text=True, timeout=timeout, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(rate: int, seconds: float, idle: str = "sleep") -> dict[str, object]:
    with (processes.scratch() as folder,
          processes.server("os", 1, fix=True, idle=idle) as srv):
        out = folder / "fix.npy"
        summary = _loadgen(srv, "--rate", str(rate), "--seconds", str(seconds), "--out",
                           str(out), timeout=seconds + 120)
        latencies = np.load(out)
    return {"offered_per_s": rate, **summary, "latency_us": stats.percentiles(latencies, 1e-3)}


def flat_out(orders: int) -> dict[str, object]:
    with processes.server("os", 1, fix=True) as srv:
        return _loadgen(srv, "--rate", "0", "--orders", str(orders), "--window", "2000",
                        timeout=300)


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    seconds = float(ops) if ops else SECONDS
    rates = {str(rate): measure(rate, seconds) for rate in RATES}
    at_goal = rates[str(GOAL_RATE)]["latency_us"]
    p99 = at_goal["p99"] / 1_000 if isinstance(at_goal, dict) and at_goal else None
    return {"seconds_per_rate": seconds, **rates, "flat_out": flat_out(FLAT_OUT_ORDERS),
            "goals": {f"p99 <= {GOAL_P99_MS} ms at {GOAL_RATE}/s": {
                "measured_ms": p99, "met": p99 is not None and p99 <= GOAL_P99_MS}}}
