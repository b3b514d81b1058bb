"""Runs benchmark scenarios and prints one JSON document per run.

    python -m perf.runner engine [--ops N] [--repeat R] [--out FILE] [--plot FILE.html]
    gridworks bench engine ...            (the same)
    gridworks bench list

Every document carries the scenario, its parameters, the machine and library versions,
the figures, and the goals with whether they were met. ``--plot`` draws the figures with
plotly into a self-contained HTML file.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from perf import machine

SCENARIOS = {
    "engine": "perf.scenarios.engine_stream",
    "batch": "perf.scenarios.batch_call",
    "replay": "perf.scenarios.replay",
    "journal": "perf.scenarios.journal_commit",
    "risk": "perf.scenarios.risk_stream",
    "mtm": "perf.scenarios.mark_to_market",
    "orders": "perf.scenarios.gateway_orders",
    "fanout": "perf.scenarios.fanout",
    "terminal": "perf.scenarios.terminal",
    "projector": "perf.scenarios.projector",
    "rest": "perf.scenarios.rest_orders",
    "fix": "perf.scenarios.fix_orders",
    "cluster": "perf.scenarios.cluster",
    "wake": "perf.scenarios.wake",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gridworks bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=[*SCENARIOS, "list"])
    parser.add_argument("--ops", type=int, default=None, help="operations in the stream")
    parser.add_argument("--repeat", type=int, default=None, help="timed repetitions")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    parser.add_argument("--plot", type=Path, default=None, help="draw a plotly HTML chart")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.scenario == "list":
        for name, module in SCENARIOS.items():
            doc = (importlib.import_module(module).__doc__ or "").strip().splitlines()[0]
            print(f"{name:<10} {doc}")
        return 0
    module = importlib.import_module(SCENARIOS[args.scenario])
    params = {k: v for k, v in (("ops", args.ops), ("repeat", args.repeat)) if v is not None}
    started = time.time()
    figures = module.main(**params)
    document = {
        "scenario": args.scenario,
        "params": params,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine.describe(),
        "results": figures,
    }
    text = json.dumps(document, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n", encoding="utf-8")
    if args.plot:
        from perf import plot

        plot.draw(document, args.plot)
        print(f"chart written to {args.plot}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
