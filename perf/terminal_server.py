"""The server side of the terminal benchmark: `gridworks serve --simulate` with more
instruments, in its own process.

    python -m perf.terminal_server --data DIR --instruments 20 --sim-speed 2

It starts a node on the embedded default (demo trader included), lists extra NSE-like
instruments until there are ``instruments`` in all, opens them for trading, serves the
packaged web terminal on a free loopback port with the market simulator quoting and trading
every instrument, prints one JSON line with the port and the demo trader's key, and serves
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from engine.commands import AddInstrument, SetPhase
from engine.instruments import InstrumentSpec
from engine.types import Phase
from gateway.server import Gateway, GatewayConfig
from gridworks.admin import DEMO, Admin
from gridworks.commands_serve import settle_garbage_collector
from gridworks.config import TERMINAL, NodeConfig
from gridworks.node import Node
from gridworks.simulator import SimConfig, run_simulator

EXTRA = [("LT", 362040), ("AXISBANK", 118550), ("KOTAKBANK", 176030), ("BHARTIARTL", 162515),
         ("HINDUNILVR", 238460), ("MARUTI", 1245000), ("SUNPHARMA", 171230), ("TITAN", 345560),
         ("WIPRO", 30450), ("ASIANPAINT", 285020), ("ULTRACEMCO", 1132000), ("NESTLEIND", 224500)]


def extra_instruments(have: int, want: int) -> list[InstrumentSpec]:
    return [InstrumentSpec(symbol=symbol, name=symbol.title(), tick=5, lot=1, ref_price=price,
                           band_bps=1000) for symbol, price in EXTRA[:max(0, want - have)]]


async def serve(data: Path, instruments: int, speed: float) -> None:
    node = Node(NodeConfig(data_dir=data, fsync="os", square_off_at="", end_of_day_at=""))
    await node.start()
    assert node.core is not None
    first = len(node.core.specs)
    specs = extra_instruments(first, instruments)
    opening: list = [AddInstrument(spec) for spec in specs]
    for instr in range(first, first + len(specs)):
        opening += [SetPhase(instr, Phase.PRE_OPEN), SetPhase(instr, Phase.CONTINUOUS)]
    await node.submit(opening)
    demo = next(c for c in node.first_credentials if c.name == DEMO)
    gateway = Gateway(node, node.kek, GatewayConfig(port=0, web_root=TERMINAL),
                      admin=Admin(node, node.kek))
    await gateway.start()
    simulator = asyncio.create_task(run_simulator(node, SimConfig(speed=speed)))
    settle_garbage_collector()
    print(json.dumps({"port": gateway.port, "key_id": demo.key_id, "secret": demo.secret,
                      "instruments": len(node.core.specs)}), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    simulator.cancel()
    await asyncio.gather(simulator, return_exceptions=True)
    await gateway.stop(reconnect_after_ms=0)
    await node.stop(snapshot_now=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--instruments", type=int, default=20)
    parser.add_argument("--sim-speed", type=float, default=2.0)
    args = parser.parse_args(argv)
    import uvloop

    uvloop.run(serve(args.data, args.instruments, args.sim_speed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
