"""Runs a node under load and prints every acknowledged order, for the SIGKILL test.

    python -m tests.gridworks.crash_driver DATA_DIR

Several concurrent clients submit random order flow; after each submit returns, the driver
prints ``ACK <seq> <account> <client order id>`` for each new order in it, flushed at once.
An ack printed here is a promise that the order survives any crash.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import msgspec

from engine.commands import Deposit, NewOrder, SetLimits
from engine.instruments import demo_instruments
from gridworks.config import NodeConfig
from gridworks.node import Node
from tests.engine.flow import Flow

CLIENTS = 4


async def client(node: Node, seed: int) -> None:
    flow = Flow(seed, specs=tuple(demo_instruments()[:2]), accounts=6)
    batch_no = 0
    while True:
        batch_no += 1
        commands = [
            msgspec.structs.replace(cmd, client_order_id=f"c{seed}-{batch_no}-{i}")
            if isinstance(cmd, NewOrder) else cmd
            for i, cmd in enumerate(flow.commands(3, 0))
        ]
        receipt = await node.submit(commands)
        lines = [f"ACK {receipt.first_seq + i} {c.account} {c.client_order_id}"
                 for i, c in enumerate(commands) if isinstance(c, NewOrder)]
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
            sys.stdout.flush()


async def main(data_dir: Path) -> None:
    node = Node(NodeConfig(data_dir=data_dir, fsync="fsync", snapshot_every=500,
                           max_orders=20_000, max_accounts=16))
    await node.start()
    await node.submit([c for a in range(6)
                       for c in (Deposit(a, 10_000_000_000), SetLimits(a, rate_per_s=0))])
    print("READY", flush=True)
    await asyncio.gather(*(client(node, seed) for seed in range(CLIENTS)))


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
