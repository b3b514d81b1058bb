"""The server side of the gateway benchmarks: a real node and gateway in their own process.

    python -m perf.bench_server --data DIR --fsync os --accounts 4 [--idle spin]

It creates ``accounts`` funded accounts with trading keys and no order-rate throttle (the
benchmarks measure the server, not the retail limit), opens the gateway on a free loopback
port with limits wide enough for a load generator, prints one JSON line with the port and
the credentials, and serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from gateway.limits import Limits
from gateway.server import Gateway, GatewayConfig
from gridworks.admin import Admin
from gridworks.commands_serve import settle_garbage_collector
from gridworks.config import NodeConfig
from gridworks.idle import IdlePolicy, start_idle_policy
from gridworks.node import Node
from gridworks.simulator import SIM_FUNDS, account_setup

BENCH_LIMITS = Limits(messages_per_s=1e9, key_messages_per_s=1e9, max_subscriptions=1_000,
                      connections_per_key=100_000, connections_per_ip=100_000,
                      outbound_hard=64 * 1024 * 1024, heartbeat_s=1.0)


async def serve(data: Path, fsync: str, accounts: int, max_orders: int,
                rest: bool = False, fix: bool = False, idle: IdlePolicy = "sleep") -> None:
    node = Node(NodeConfig(data_dir=data, fsync=fsync, demo_accounts=False,  # type: ignore[arg-type]
                           square_off_at="", end_of_day_at="", max_orders=max_orders))
    await node.start()
    admin = Admin(node, node.kek)
    keys = []
    for n in range(accounts):
        account, credentials = await admin.create_account(f"bench-{n}", SIM_FUNDS)
        assert credentials is not None
        await node.submit(account_setup(account))  # no order-rate throttle, as simulated

        keys.append([account, credentials.key_id, credentials.secret])
    gateway = Gateway(node, node.kek, GatewayConfig(port=0, limits=BENCH_LIMITS))
    await gateway.start()
    info: dict[str, object] = {"port": gateway.port, "keys": keys}
    server = None
    if rest:
        from gateway.limits import LocalKeyLimiter
        from gateway.rest.app import RestServer

        server = RestServer(gateway, LocalKeyLimiter(1e9, 2e9), None, "127.0.0.1", 0)
        await server.start()
        info["rest_port"] = server.port
    acceptor = None
    if fix:
        from gateway.fix.acceptor import FixAcceptor
        from gateway.fix.config import FixConfig, SessionConfig

        sessions = [SessionConfig(f"BENCH{n}", key_id=key_id)
                    for n, (_, key_id, _) in enumerate(keys)]
        acceptor = FixAcceptor(gateway, FixConfig(port=0, sessions=sessions), data,
                               "127.0.0.1")
        await acceptor.start()
        info["fix_port"] = acceptor.port
    settle_garbage_collector()
    poll = start_idle_policy(idle, lambda: node.stats.batches, NodeConfig().spin_linger_ms)
    print(json.dumps(info), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    if poll is not None:
        poll.stop()
    if server is not None:
        await server.stop()
    if acceptor is not None:
        await acceptor.stop()
    await gateway.stop(reconnect_after_ms=0)
    await node.stop(snapshot_now=False)
    print(json.dumps({"stopped": node.stats.commands}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--fsync", choices=["fsync", "os"], default="os")
    parser.add_argument("--accounts", type=int, default=4)
    parser.add_argument("--max-orders", type=int, default=262_144)
    parser.add_argument("--rest", action="store_true", help="also serve the REST API")
    parser.add_argument("--fix", action="store_true",
                        help="also run the FIX acceptor (a session BENCH<n> per account)")
    parser.add_argument("--idle", choices=["sleep", "spin"], default="sleep",
                        help="the event loop's idle policy between orders (gridworks.idle)")
    args = parser.parse_args(argv)
    import uvloop

    uvloop.run(serve(args.data, args.fsync, args.accounts, args.max_orders, args.rest,
                      args.fix, args.idle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
