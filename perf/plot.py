"""Charts of benchmark results with plotly: one self-contained HTML file per run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

Figure = go.Figure


def _percentile_traces(fig: Figure, series: dict[str, dict[str, float]], row: int, col: int,
                       unit: str) -> None:
    keys = ["p50", "p90", "p99", "p99.9"]
    for name, values in series.items():
        fig.add_trace(go.Bar(name=name, x=keys, y=[values.get(k) for k in keys]), row=row, col=col)
    fig.update_yaxes(title_text=unit, type="log", row=row, col=col)


def engine(results: dict) -> Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "throughput on the standard stream (ops/s)", "per-operation cost in the kernel"))
    batches = results["numba_batches"]
    names = ["reference"] + [f"numba, {size} per call" for size in batches]
    values = [results["check"]["reference_ops_per_s"]] + [v["ops_per_s"] for v in batches.values()]
    fig.add_trace(go.Bar(x=names, y=values, name="ops/s", showlegend=False), row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=1)
    per_op = results["numba_per_op"]
    _percentile_traces(fig, {k: v for k, v in per_op.items() if k.endswith("_ns")}, 1, 2, "ns")
    return fig


def batch(results: dict) -> Figure:
    fig = make_subplots(rows=1, cols=1, subplot_titles=("one batch of 16 commands",))
    _percentile_traces(fig, {k: v for k, v in results.items() if k.endswith("_us")}, 1, 1, "µs")
    return fig


def replay(results: dict) -> Figure:
    steps = {
        "scan": results["scan_s"], "decode": results["decode_s"],
        "read + apply": results["read_and_apply_s"], "recover (total)": results["recover_total_s"],
    }
    return go.Figure(go.Bar(x=list(steps), y=list(steps.values())),
                     layout={"title": f"replay of {results['commands']:,} commands (s)"})


def wake(results: dict) -> Figure:
    series = {"back to back": results["back_to_back_us"]}
    for name, case in results.items():
        if isinstance(case, dict) and "asleep_us" in case:
            series[f"{name}, asleep"] = case["asleep_us"]
            series[f"{name}, polling"] = case["polling_us"]
    fig = make_subplots(rows=1, cols=1, subplot_titles=("one core step after a wait",))
    _percentile_traces(fig, series, 1, 1, "µs")
    return fig


def journal(results: dict) -> Figure:
    cases = {k: v for k, v in results.items() if isinstance(v, dict) and "commit_us" in v}
    fig = make_subplots(rows=1, cols=2, subplot_titles=("commands per second", "commit latency"))
    fig.add_trace(go.Bar(x=list(cases), y=[v["commands_per_s"] for v in cases.values()],
                         showlegend=False), row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=1)
    _percentile_traces(fig, {k: v["commit_us"] for k, v in cases.items()}, 1, 2, "µs")
    return fig


def risk(results: dict) -> Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "throughput, bare book vs risk pipeline (ops/s)", "per-command cost by stage"))
    sizes = list(results["batches"])
    for name in ("bare", "risk"):
        fig.add_trace(go.Bar(name=name, x=[f"{s} per call" for s in sizes],
                             y=[results["batches"][s][f"{name}_ops_per_s"] for s in sizes]),
                      row=1, col=1)
    per_op = results["per_op"]
    _percentile_traces(fig, {k: v for k, v in per_op.items()
                             if k.endswith("_ns") and isinstance(v, dict)}, 1, 2, "ns")
    return fig


def mtm(results: dict) -> Figure:
    title = (f"one mark-to-market pass: {results['accounts']:,} accounts x "
             f"{results['instruments']} instruments")
    fig = make_subplots(rows=1, cols=1, subplot_titles=(title,))
    _percentile_traces(fig, {"pass": results["pass_ms"]}, 1, 1, "ms")
    return fig


def orders(results: dict) -> Figure:
    cases = {k: v for k, v in results.items() if isinstance(v, dict) and "latency_us" in v}
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "offered vs answered orders per second", "order to durable ack (from scheduled send)"))
    fig.add_trace(go.Bar(name="offered", x=list(cases),
                         y=[v["offered_per_s"] for v in cases.values()]), row=1, col=1)
    fig.add_trace(go.Bar(name="answered in time", x=list(cases),
                         y=[v["measured"] / max(results["seconds_per_case"] - 1, 1)
                            for v in cases.values()]), row=1, col=1)
    _percentile_traces(fig, {k: v["latency_us"] for k, v in cases.items()}, 1, 2, "µs")
    fig.update_yaxes(type="log", row=1, col=2)
    return fig


def fanout(results: dict) -> Figure:
    cases = {f"{k} subscribers": v for k, v in results.items()
             if isinstance(v, dict) and "latency_ms" in v}
    fig = make_subplots(rows=1, cols=1, subplot_titles=(
        "depth update latency at the subscriber (from the core's acceptance)",))
    _percentile_traces(fig, {k: v["latency_ms"] for k, v in cases.items()}, 1, 1, "ms")
    fig.update_yaxes(type="log", row=1, col=1)
    return fig


def terminal(results: dict) -> Figure:
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "frame interval while streaming (ms; 16.7 = 60 fps)",
        "tick arrival to its screen write (ms)"))
    runs = {f"{name}, run {n + 1}": run for name, case in results.items()
            if isinstance(case, dict) and "streaming" in case
            for n, run in enumerate(case["streaming"])}
    _percentile_traces(fig, {k: v["frame_interval_ms"] for k, v in runs.items()}, 1, 1, "ms")
    _percentile_traces(fig, {k: v["tick_wait_ms"] for k, v in runs.items()}, 1, 2, "ms")
    return fig


def projector(results: dict) -> Figure:
    caught, live = results["catch_up"], results["live"]
    fig = make_subplots(rows=1, cols=3, subplot_titles=(
        "catch-up from the journal (per second)", "rows written by table",
        f"live at {live['rate_per_s']:,} commands/s: largest lag each second (ms)"))
    fig.add_trace(go.Bar(x=["commands", "rows"], y=[caught["commands_per_s"],
                                                    caught["rows_per_s"]], showlegend=False),
                  row=1, col=1)
    fig.add_trace(go.Bar(x=list(caught["rows"]), y=list(caught["rows"].values()),
                         showlegend=False), row=1, col=2)
    lags = live["lag_ms_max_per_second"]
    fig.add_trace(go.Bar(x=[f"s {n + 1}" for n in range(len(lags))], y=lags,
                         showlegend=False), row=1, col=3)
    return fig


def rest(results: dict) -> Figure:
    cases = {f"{k}/s": v for k, v in results.items() if isinstance(v, dict) and "latency_ms" in v}
    fig = make_subplots(rows=1, cols=1, subplot_titles=(
        "REST order placement, due time to durable reply",))
    _percentile_traces(fig, {k: v["latency_ms"] for k, v in cases.items()}, 1, 1, "ms")
    return fig


def fix(results: dict) -> Figure:
    cases = {f"{k}/s": v for k, v in results.items() if isinstance(v, dict) and "latency_us" in v}
    fig = make_subplots(rows=1, cols=1, subplot_titles=(
        "FIX NewOrderSingle to ExecutionReport(New), from the scheduled send",))
    _percentile_traces(fig, {k: v["latency_us"] for k, v in cases.items()}, 1, 1, "µs")
    return fig


def cluster(results: dict) -> Figure:
    cases = {k: v for k, v in results.items() if isinstance(v, dict) and "latency_us" in v}
    rounds = results["failover"]["rounds"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "order to ack: one process vs cluster (from the scheduled send)",
        "failover: SIGKILL of the leader to the next acknowledgement (s)"))
    _percentile_traces(fig, {k: v["latency_us"] for k, v in cases.items()}, 1, 1, "µs")
    fig.add_trace(go.Bar(x=[f"round {n + 1}" for n in range(len(rounds))],
                         y=[r["failover_s"] for r in rounds], showlegend=False), row=1, col=2)
    return fig


BUILDERS: dict[str, Callable[[dict], Figure]] = {
    "engine": engine, "batch": batch, "replay": replay, "journal": journal, "risk": risk,
    "mtm": mtm, "orders": orders, "fanout": fanout, "terminal": terminal,
    "projector": projector, "rest": rest, "fix": fix, "cluster": cluster, "wake": wake,
}


def draw(document: dict, path: Path) -> None:
    fig = BUILDERS[document["scenario"]](document["results"])
    machine = document["machine"]
    fig.update_layout(
        title_text=f"gridworks bench {document['scenario']} — {machine['cpu']}, "
        f"{machine['cores']} cores, numba {machine['versions']['numba']} "
        f"({document['started']})",
        barmode="group", template="plotly_white",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.write_html(path, include_plotlyjs=True, full_html=True)
