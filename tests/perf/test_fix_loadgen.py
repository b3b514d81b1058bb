"""The FIX load generator drives a real benchmark server: every order it sends at a fixed
rate or flat out is acknowledged, and each latency it records is one order's round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from perf import fix_loadgen, processes
from perf.scenarios.fix_orders import _loadgen, loadgen_options


def test_a_fixed_rate_run_records_one_latency_per_acknowledged_order(tmp_path: Path) -> None:
    out = tmp_path / "fix.npy"
    with processes.server("os", 1, fix=True) as srv:
        summary = _loadgen(srv, "--rate", "400", "--seconds", "0.5", "--out", str(out),
                           timeout=120)
    assert summary["orders"] == summary["acknowledged"] == 200
    latencies = np.load(out)
    assert len(latencies) == 200
    assert (latencies > 0).all()
    assert latencies.max() < 30e9  # ns: each within the generator's wait for answers
    assert summary["send_lag_us"]["p50"] >= 0


def test_flat_out_counts_every_order_of_the_window_through() -> None:
    with processes.server("os", 1, fix=True) as srv:
        summary = _loadgen(srv, "--rate", "0", "--orders", "1000", "--window", "100",
                           timeout=120)
    assert summary["orders"] == 1000
    assert summary["acknowledged_per_s"] > 0


def test_a_secret_that_begins_with_a_dash_reaches_the_generator_whole() -> None:
    srv = processes.Server(port=1, keys=[[1, "gwk_1", "-ze98_Ic40x"]], process=None,  # type: ignore[arg-type]
                           fix_port=9876)
    args = fix_loadgen.parser().parse_args([*loadgen_options(srv), "--rate", "0"])
    assert (args.secret, args.key_id, args.port, args.rate) == ("-ze98_Ic40x", "gwk_1", 9876, 0)
