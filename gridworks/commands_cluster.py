"""``gridworks cluster up``: a cluster on this machine (`gridworks.cluster`) until Ctrl-C.

    gridworks cluster up [--shards 1] [--engines 2] [--gateways 2] [--routers N]
                         [--dir cluster] [--kafka HOST:PORT] [--redis URL]

With several shards it starts one router (``--routers``) in front of every shard's
gateways: one connection for all of them.

Without ``--kafka`` it starts the development broker (Tansu, from the dev dependencies) on a
free loopback port, in memory: the cluster's log then lives as long as the command.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from gridworks.config import from_environment


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="run a cluster of engines and gateways on this machine")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start shards (leader + standbys) and gateways")
    up.add_argument("--shards", type=int, default=1)
    up.add_argument("--engines", type=int, default=2, help="engines per shard (default 2)")
    up.add_argument("--gateways", type=int, default=2, help="gateways per shard (default 2)")
    up.add_argument("--routers", type=int, default=None,
                    help="routers in front of every shard's gateways (default: 1 with "
                         "several shards, else 0)")
    up.add_argument("--dir", type=Path, default=Path("cluster"),
                    help="data directories and logs of the processes (default ./cluster)")
    up.add_argument("--kafka", default=None,
                    help="Kafka bootstrap servers (default: start a local development broker)")
    up.add_argument("--redis", default=None, help="Redis URL (default GRIDWORKS_REDIS or "
                                                  "redis://127.0.0.1:6379/0)")
    up.set_defaults(handler=_up)


def _up(args: argparse.Namespace) -> int:
    from bus.tansu import free_port, start_broker
    from gridworks.cluster import ClusterPlan, LocalCluster

    config = from_environment()
    broker = None
    kafka = args.kafka or config.kafka
    if not kafka:
        port = free_port()
        broker = start_broker(port)
        kafka = f"127.0.0.1:{port}"
        print(f"gridworks: development Kafka broker (in memory) on {kafka}", flush=True)
    plan = ClusterPlan(kafka=kafka, redis=args.redis or config.redis or "redis://127.0.0.1:6379/0",
                       shards=args.shards, engines_per_shard=args.engines,
                       gateways_per_shard=args.gateways, redis_prefix=config.redis_prefix,
                       routers=args.routers if args.routers is not None else int(args.shards > 1),
                       kafka_prefix=config.kafka_prefix,
                       kafka_idempotent=config.kafka_idempotent and broker is None,
                       lease_ms=config.lease_ms)
    cluster = LocalCluster(args.dir, plan)
    try:
        cluster.start()
        for member in cluster.members:
            where = f"http://{plan.host}:{member.port}/status"
            if member.role == "gateway":
                where = f"ws://{plan.host}:{member.port}/ (REST :{member.rest_port})"
            elif member.role == "router":
                where = (f"ws://{plan.host}:{member.port}/ and REST :{member.rest_port} "
                         "(every shard)")
            shard = "all" if member.role == "router" else member.shard
            print(f"gridworks: {member.name:<14} {member.role:<8} shard {shard:<3}  {where}")
        print(f"gridworks: logs in {args.dir}/<name>.log; the demo trader's key is in "
              f"{args.dir}/<shard 0 leader>/credentials/demo.json; Ctrl-C stops the cluster",
              flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
    finally:
        cluster.stop()
        if broker is not None:
            broker.kill()
            broker.wait(10)
    return 0
