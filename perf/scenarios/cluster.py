"""Scenario ``cluster``: order -> ack latency in cluster mode against one process, and failover.

Latency: the load generator of scenario ``orders`` (open loop, fixed arrival schedule,
latency from the scheduled send time to the reply) at the same rates and connections,
against (a) the single-process server with its journal under each durability policy and
(b) a cluster gateway in front of a shard's leader and standby, over Kafka (the Tansu
development broker, in memory, on loopback) and Redis, and (c) a router in front of that
gateway (one more WebSocket hop, as clients of a cluster with several shards connect). In
cluster mode an order is acknowledged when the gateway reads the log entry holding it back
from the broker: two produce round trips and two fetches more than a journal append.
REST: signed ``POST /orders`` from the REST load generator (`perf.rest_loadgen`, 64 HTTP
connections, the same open loop) to the gateway's REST API and to the router's, which
forwards each request to the gateway's.

Failover: a client places orders every 5 ms through a gateway while the shard's leader is
killed with SIGKILL; the failover time is from the kill to the first acknowledgement of an
order sent after it (the standby has then won the lease, fenced the log and taken the
waiting requests). Goal: under 2 s. Each round starts a fresh standby for the next.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from perf import processes, stats
from perf.scenarios import gateway_orders

if TYPE_CHECKING:
    from gridworks.cluster import LocalCluster

RATES = (100, 1_000, 3_000)
REST_RATES = (100, 500)
REST_CONNECTIONS = 64  # each request waits for the log: tens of ms
SECONDS = 6.0
CONNECTIONS = 4
ROUNDS = 3
FAILOVER_GOAL_S = 2.0
LEASE_MS = 1_000
REDIS = "redis://127.0.0.1:6379/0"
WIDE_LIMITS = {"GRIDWORKS_WS_MESSAGES_PER_S": "1e9", "GRIDWORKS_WS_KEY_MESSAGES_PER_S": "1e9",
               "GRIDWORKS_WS_CONNECTIONS_PER_KEY": "100000",
               "GRIDWORKS_WS_CONNECTIONS_PER_IP": "100000", "GRIDWORKS_WS_MAX_BACKLOG": "1000000",
               "GRIDWORKS_REST_REQUESTS_PER_S": "1e9",
               "GRIDWORKS_DEMO_ACCOUNTS": "0", "GRIDWORKS_SQUARE_OFF_AT": "",
               "GRIDWORKS_END_OF_DAY_AT": ""}


@contextmanager
def local_cluster(accounts: int) -> Iterator[tuple[LocalCluster, list]]:
    """A broker, a shard's two engines and one gateway; ``accounts`` funded accounts without
    the order-rate throttle, as [account, key id, secret]."""
    from bus.tansu import free_port, start_broker
    from gridworks.cluster import ClusterPlan, LocalCluster

    port = free_port()
    broker = start_broker(port)
    root = Path(tempfile.mkdtemp(prefix="cluster-", dir=processes.CACHE))
    plan = ClusterPlan(kafka=f"127.0.0.1:{port}", redis=REDIS, gateways_per_shard=1, routers=1,
                       redis_prefix=f"gwbench:{uuid.uuid4().hex[:8]}", kafka_idempotent=False,
                       lease_ms=LEASE_MS, env=WIDE_LIMITS)
    cluster = LocalCluster(root, plan)
    try:
        cluster.start()
        keys = asyncio.run(_bench_accounts(cluster, accounts))
        yield cluster, keys
    finally:
        cluster.stop()
        broker.kill()
        broker.wait(10)
        shutil.rmtree(root, ignore_errors=True)


async def _bench_accounts(cluster: LocalCluster, accounts: int) -> list:
    """Made through a replica of the shard, as an operator's tool would."""
    from bus.commandlog import ShardLog
    from bus.kafka import KafkaConfig
    from gridworks.admin import Admin
    from gridworks.config import NodeConfig, core_config
    from gridworks.replica import Replica
    from gridworks.requests import RequestSender
    from gridworks.simulator import SIM_FUNDS, account_setup

    plan = cluster.plan
    replica = Replica(ShardLog(KafkaConfig(plan.kafka, idempotent=False)), core_config(
        NodeConfig()), client_id="bench-admin")
    await replica.start()
    sender = RequestSender(replica)
    await sender.start()
    kek = base64.b64decode(cluster.env["GRIDWORKS_KEK"])
    admin = Admin(replica, kek)  # type: ignore[arg-type]
    keys = []
    try:
        for n in range(accounts):
            account, credentials = await admin.create_account(f"bench-{n}", SIM_FUNDS)
            assert credentials is not None
            await replica.submit(account_setup(account))
            keys.append([account, credentials.key_id, credentials.secret])
    finally:
        await sender.stop()
        await replica.stop()
    return keys


def cluster_latency(cluster: LocalCluster, keys: list, rate: int, seconds: float,
                    through: str = "gateway") -> dict:
    """Through the shard's gateway, or through the router in front of it."""
    target = cluster.routers()[0] if through == "router" else cluster.gateways()[0]
    with processes.scratch() as folder:
        gen = processes.generator("orders", target.port, "--keys", json.dumps(keys), "--rate",
                                  rate, "--seconds", seconds, "--warmup", 1.0, "--spread", 0,
                                  out=folder / "latencies.npy")
        summary, latencies = gen.result(timeout=seconds + 60)
    return {**summary, "connections": len(keys),
            "latency_us": stats.percentiles(latencies, 1e-3)}


def cluster_rest_latency(cluster: LocalCluster, keys: list, rate: int, seconds: float,
                         through: str = "gateway") -> dict:
    """Signed ``POST /orders`` to the shard gateway's REST API, or to the router's."""
    import subprocess
    import sys

    import numpy as np

    target = cluster.routers()[0] if through == "router" else cluster.gateways()[0]
    with processes.scratch() as folder:
        out = folder / "rest-latencies.npy"
        done = subprocess.run(
            [sys.executable, "-m", "perf.rest_loadgen", "--port", str(target.rest_port),
             "--keys", json.dumps(keys), "--rate", str(rate), "--seconds", str(seconds),
             "--out", str(out), "--prefix", f"{through[0]}{rate}-",
             "--connections", str(REST_CONNECTIONS)],
            capture_output=True, text=True, timeout=seconds + 120, check=True)
        latencies = np.load(out)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    return {"offered_per_s": rate, **summary, "latency_us": stats.percentiles(latencies, 1e-3)}


async def _failover_round(cluster: LocalCluster, key: list) -> dict:
    from gateway.client import Client

    gateway = cluster.gateways()[0]
    client = await Client.connect(f"ws://127.0.0.1:{gateway.port}/")
    await client.login(key[1], key[2])
    acks: list[tuple[float, float, bool]] = []  # (sent, answered, ok)

    async def place(n: int) -> None:
        sent = time.monotonic()
        reply = await client.call("place", {"symbol": "RELIANCE", "side": "buy", "qty": 1,
                                            "price": 130_000, "client_order_id":
                                            f"f{uuid.uuid4().hex[:10]}{n}"}, timeout=20)
        acks.append((sent, time.monotonic(), bool(reply["ok"])))

    tasks = []
    cluster.wait(lambda: cluster.leader() is not None, 30)  # /status may be slow to answer
    leader = cluster.leader()
    assert leader is not None
    killed_at = 0.0
    for n in range(600):  # 3 s at one order per 5 ms
        if n == 200:
            killed_at = time.monotonic()
            leader.process.send_signal(9)
        tasks.append(asyncio.create_task(place(n)))
        await asyncio.sleep(0.005)
    await asyncio.gather(*tasks, return_exceptions=True)
    leader.process.wait(10)
    await client.close()
    after = sorted(answered for sent, answered, ok in acks if sent >= killed_at and ok)
    return {"failover_s": round(after[0] - killed_at, 3) if after else None,
            "orders": len(tasks), "acknowledged": sum(ok for *_, ok in acks),
            "refused": sum(not ok for *_, ok in acks),
            "longest_wait_s": round(max(a - s for s, a, _ in acks), 3)}


def failover(rounds: int) -> dict:
    with local_cluster(1) as (cluster, keys):
        results = []
        for r in range(rounds):
            results.append(asyncio.run(_failover_round(cluster, keys[0])))
            cluster.wait(lambda: cluster.leader() is not None, 30)
            cluster.spawn("engine", 0, f"engine-0-r{r}")
            time.sleep(2.0)  # the new standby catches up
        times = [r["failover_s"] for r in results if r["failover_s"] is not None]
        return {"rounds": results, "lease_ms": LEASE_MS,
                "worst_failover_s": max(times) if times else None,
                "goal_s": FAILOVER_GOAL_S,
                "goal_met": bool(len(times) == rounds and max(times) < FAILOVER_GOAL_S)}


def main(ops: int = 0, repeat: int = ROUNDS) -> dict[str, object]:
    seconds = ops / max(RATES) if ops else SECONDS
    results: dict[str, object] = {"seconds_per_case": seconds}
    for rate in RATES:
        for fsync in ("os", "fsync"):
            results[f"single/{fsync}/{rate}"] = gateway_orders.measure(fsync, rate, seconds)
    with local_cluster(CONNECTIONS) as (cluster, keys):
        for rate in RATES:
            results[f"cluster/{rate}"] = cluster_latency(cluster, keys, rate, seconds)
            results[f"router/{rate}"] = cluster_latency(cluster, keys, rate, seconds, "router")
        for rate in REST_RATES:
            results[f"rest/cluster/{rate}"] = cluster_rest_latency(cluster, keys, rate, seconds)
            results[f"rest/router/{rate}"] = cluster_rest_latency(cluster, keys, rate, seconds,
                                                                  "router")
    results["failover"] = failover(repeat)
    return results
