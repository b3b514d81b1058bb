"""Scenario ``orders``: orders through one WebSocket gateway, acknowledged when durable.

A real node and gateway run in their own process; a load generator in another process
places limit orders on a fixed arrival schedule (open loop) over several connections of
different accounts, alternating buys and sells at one price so they trade. The latency of
an order is from its scheduled send time to the arrival of its reply, which the server
sends only once the order is in the journal under the durability policy. For each policy
and offered rate the figures are the achieved rate and the latency percentiles in µs; the
``batched`` cases send whatever is due as one array frame of up to 100 requests.

The one-client cases run once more with the server's ``spin`` idle policy
(`gridworks.idle`: its event loop keeps polling between orders instead of sleeping).

The ``floor`` case runs the same one-client schedule against `perf.floor_server`, which
answers every request the moment it reads it: what the sockets, the machine's scheduling
and the generator cost without any server work.

The goals: at 1,000 orders/s, p99 within 300 µs with the OS-buffered journal and 600 µs
with fdatasync per group commit; sustained 50,000 orders/s with p99 within 5 ms.
"""

from __future__ import annotations

import json

from perf import processes, stats

SECONDS = 6.0
CONNECTIONS = 4
RATES = (3_000, 10_000, 50_000)
BATCHED_RATE = 20_000
GOALS_US = {("os", 1_000): 300, ("fsync", 1_000): 600, ("os", 50_000): 5_000,
            ("fsync", 50_000): 5_000}


def measure(fsync: str, rate: int, seconds: float, batch: int = 1,
            connections: int = CONNECTIONS, idle: str = "sleep") -> dict[str, object]:
    with processes.server(fsync, connections, idle=idle) as srv:
        figures = _generate(srv, rate, seconds, batch, connections)
    goal = GOALS_US.get((fsync, rate))
    if goal is not None:
        figures["goal_p99_us"] = goal
        # every order taken, none refused: a quick SERVER_BUSY is an answer, not a success
        figures["goal_met"] = bool(figures["unanswered"] == 0
                                   and set(figures["outcomes"]) <= {"ok"}
                                   and figures["latency_us"].get("p99", 1e18) <= goal)
    return figures


def floor(rate: int, seconds: float) -> dict[str, object]:
    """One client against a server that does no work: the round trip's floor here."""
    with processes.floor_server() as srv:
        return _generate(srv, rate, seconds, 1, 1)


def _generate(srv: processes.Server, rate: int, seconds: float, batch: int,
              connections: int) -> dict:
    # One client's buys and sells would trade with each other, which self-trade prevention
    # cancels: alone, it quotes a two-tick spread instead (the orders rest).
    spread = 10 if connections == 1 else 0
    with processes.scratch() as folder:
        gen = processes.generator(
            "orders", srv.port, "--keys", json.dumps(srv.keys), "--rate", rate,
            "--seconds", seconds, "--warmup", 1.0, "--batch", batch, "--spread", spread,
            out=folder / "latencies.npy")
        summary, latencies = gen.result(timeout=seconds + 60)
    return {**summary, "connections": connections,
            "latency_us": stats.percentiles(latencies, 1e-3)}


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    seconds = ops / max(RATES) if ops else SECONDS
    results: dict[str, object] = {"seconds_per_case": seconds,
                                  "floor/1000/one client": floor(1_000, seconds)}
    for fsync in ("os", "fsync"):  # the round-trip goal: one client at 1,000 orders/s
        results[f"{fsync}/1000/one client"] = measure(fsync, 1_000, seconds, connections=1)
        results[f"{fsync}/1000/one client, idle spin"] = measure(
            fsync, 1_000, seconds, connections=1, idle="spin")
    for fsync in ("os", "fsync"):
        for rate in RATES:
            results[f"{fsync}/{rate}"] = measure(fsync, rate, seconds)
    # Bots that send what they have in one array frame (up to 100 requests).
    for fsync in ("os", "fsync"):
        results[f"{fsync}/{BATCHED_RATE}/batched"] = measure(fsync, BATCHED_RATE, seconds, 100)
    return results
