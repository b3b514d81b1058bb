"""``gridworks serve``: a node and its WebSocket gateway on the embedded default, with the
market simulator on request, until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from gridworks.commands_core import node_config, node_options
from gridworks.config import ENV_PREFIX, NodeConfig, gateway_limits, web_root, with_overrides
from gridworks.idle import start_idle_policy

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from bus.kafka import KafkaPublisher
    from gateway.fix.acceptor import FixAcceptor
    from gateway.limits import KeyLimiter
    from gateway.rest.app import RestServer
    from gateway.server import Gateway
    from gateway.sessions import SessionStore
    from gridworks.admin import Credentials
    from gridworks.node import Node
    from store.nonces import RedisNonces
    from store.projector import Projector


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run a node on its embedded default (journal under ./data)")
    node_options(p)
    p.add_argument("--host", default=None, help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="HTTP port (default 8080)")
    p.add_argument("--fsync", choices=["fsync", "os"], default=None,
                   help="journal durability: fdatasync every group commit, or OS-buffered")
    p.add_argument("--idle", choices=["sleep", "spin"], default=None,
                   help="between orders, sleep in the kernel (default) or keep polling "
                        "for GRIDWORKS_SPIN_LINGER_MS after the last batch (takes a core)")
    p.add_argument("--snapshot-every", type=int, default=None,
                   help="commands between snapshots (0: never; default 200000)")
    p.add_argument("--closed", action="store_true",
                   help="on first start leave the demo instruments closed")
    p.add_argument("--simulate", action="store_true", default=None,
                   help="run the market simulator: makers quoting and takers trading")
    p.add_argument("--sim-speed", type=float, default=None,
                   help="multiply the simulator's order rates (default 1: ~500 orders/s)")
    p.add_argument("--sim-seed", type=int, default=None, help="the simulator's random seed")
    p.add_argument("--rest-port", type=int, default=None,
                   help="port of the REST API (default 8081; -1: none)")
    p.add_argument("--redis", default=None,
                   help="Redis URL: per-key limits shared with the other gateway processes")
    p.add_argument("--pg", default=None,
                   help="PostgreSQL DSN: project the history there (run `gridworks db migrate`)")
    p.add_argument("--kafka", default=None,
                   help="Kafka bootstrap servers: publish the event topics (docs/kafka.md)")
    p.add_argument("--fix-config", default=None,
                   help="a TOML file of FIX sessions: run the FIX acceptor (docs/fix.md)")
    p.add_argument("--fix-port", type=int, default=None,
                   help="the FIX acceptor's port (default: the one in the FIX config file)")
    p.add_argument("--role", choices=["single", "engine", "gateway", "follower", "router"],
                   default=None,
                   help="cluster mode: a shard's engine (leader or standby), a stateless "
                        "gateway, a follower running the event topics and --pg projector "
                        "(all need --kafka; engines need --redis), or a router in front of "
                        "every shard's gateways (GRIDWORKS_SHARD_GATEWAYS); default single")
    p.add_argument("--shard", type=int, default=None, help="the shard served (default 0)")
    p.add_argument("--shards", type=int, default=None,
                   help="how many shards the cluster has (default 1)")
    p.add_argument("--shard-gateways", default=None, metavar="0=URL[,URL];1=URL",
                   help="a router's gateways of each shard (default GRIDWORKS_SHARD_GATEWAYS)")
    p.add_argument("--shard-rest", default=None, metavar="0=URL[,URL];1=URL",
                   help="a router's REST APIs of each shard's gateways: the router serves "
                        "the REST API on --rest-port (default GRIDWORKS_SHARD_REST)")
    p.add_argument("--node-id", default=None,
                   help="this process's name in the cluster (default: host and process id)")
    p.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    config = node_config(args, host=args.host, port=args.port, fsync=args.fsync,
                         idle=args.idle,
                     snapshot_every=args.snapshot_every,
                     open_market=False if args.closed else None, simulate=args.simulate,
                     sim_speed=args.sim_speed, sim_seed=args.sim_seed, pg=args.pg,
                         redis=args.redis, rest_port=args.rest_port,
                         fix_config=args.fix_config, fix_port=args.fix_port,
                         kafka=args.kafka, role=args.role, shard=args.shard,
                         shards=args.shards, node_id=args.node_id,
                         shard_gateways=args.shard_gateways, shard_rest=args.shard_rest)
    if config.role != "single":
        from gridworks.cluster_roles import run_role

        return run_role(config)
    if config.simulate:
        config = round_the_clock(config, os.environ)
    try:
        import uvloop

        uvloop.run(_run_node(config))
    except KeyboardInterrupt:
        pass
    return 0


def settle_garbage_collector() -> None:
    """Move everything alive after start-up (modules, compiled kernels, the recovered
    state's objects) out of the collector's reach, so a full collection later scans only
    what serving allocates: a long-lived server otherwise pauses for tens of milliseconds
    whenever the oldest generation is collected."""
    gc.collect()
    gc.freeze()
    # After the freeze the collector counts almost nothing as long-lived, so while the
    # serving state grows (open orders, their records, FIX sessions' stored messages) a
    # full collection would run after every 10 middle ones and rescan all of it: with
    # 60,000 open orders that halved the orders a second a FIX session could send. Full
    # collections wait for 1,000 middle ones instead; the young ones, which free nearly
    # all of a request's garbage, keep their default pace.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1_000)


def round_the_clock(config: NodeConfig, environ: Mapping[str, str]) -> NodeConfig:
    """A simulated market trades at any hour, so the daily intraday square-off and end of
    day are off unless configured explicitly."""
    off = {name: "" for name in ("square_off_at", "end_of_day_at")
           if ENV_PREFIX + name.upper() not in environ}
    return with_overrides(config, **off)


async def _run_node(config: NodeConfig) -> None:
    from gateway.server import Gateway, GatewayConfig
    from gridworks.datadir import DataDirLockedError
    from gridworks.node import Node

    node = Node(config)
    try:
        report = await node.start()
    except DataDirLockedError as exc:
        print(f"gridworks: {exc}", file=sys.stderr)
        return
    print(f"gridworks: data in {config.data_dir.resolve()}")
    for line in report.lines():
        print(f"gridworks: {line}")
    print_first_credentials(node.first_credentials, config)
    from gridworks.admin import Admin

    projector, projecting = start_projector(node, config)
    publisher, publishing = start_publisher(node, config)
    parts = {name: part.status for name, part in (("projector", projector),
                                                   ("kafka", publisher)) if part is not None}

    def status() -> dict[str, object]:
        return {**node.status(), **{name: part() for name, part in parts.items()}}
    gateway = Gateway(node, node.kek, GatewayConfig(host=config.host, port=config.port,
                                                    limits=gateway_limits(config),
                                                    web_root=web_root(config),
                                                    key_limiter=shared_key_limiter(config),
                                                    sessions=shared_sessions(config),
                                                    nonces=shared_nonces(config)),
                      status=status, admin=Admin(node, node.kek))
    if publisher is not None:
        gateway.metrics.gauge("gridworks_kafka_lag", lambda: publisher.stats.lag,
                              "commands durable in the journal but not yet on Kafka")
    if projector is not None:
        gateway.metrics.gauge("gridworks_projector_lag", lambda: projector.stats.lag,
                              "commands durable in the journal but not yet in PostgreSQL")
    await gateway.start()
    fanout = start_fanout(gateway, config)
    print(f"gridworks: WebSocket API on ws://{config.host}:{config.port}/ "
          f"(HTTP: /healthz, /metrics, /status); journal fsync policy: {config.fsync}; "
          f"idle: {config.idle}")
    rest = await start_rest(gateway, config)
    fix = await start_fix(gateway, config)
    if gateway.static is not None:
        print(f"gridworks: web terminal on http://{config.host}:{config.port}/ "
              "(log in with an API key, e.g. the demo trader's)")
    simulator = _start_simulator(node, config)
    settle_garbage_collector()
    idle = start_idle_policy(config.idle, lambda: node.stats.batches, config.spin_linger_ms)
    if idle is not None:
        parts["idle"] = idle.status
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("gridworks: stopping")
    if idle is not None:
        idle.stop()
    for task in (simulator, projecting, publishing, fanout):
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if rest is not None:
        await rest.stop()
    if fix is not None:
        await fix.stop()
    await gateway.stop()
    await node.stop()
    print(f"gridworks: stopped at seq {node.core.last_seq}")


async def start_fix(gateway: Gateway | list[Gateway],
                    config: NodeConfig) -> FixAcceptor | None:
    """With ``--fix-config``: the FIX acceptor on its own port (on one gateway's core, or
    on several: a router's, one per shard)."""
    if not config.fix_config:
        return None
    from gateway.fix import config as fix_config
    from gateway.fix.acceptor import FixAcceptor

    settings = fix_config.load(Path(config.fix_config))
    if config.fix_port >= 0:
        settings = msgspec.structs.replace(settings, port=config.fix_port)
    acceptor = FixAcceptor(gateway, settings, config.data_dir, config.host)
    await acceptor.start()
    acceptor.gw.extra_status["fix"] = acceptor.stats
    print(f"gridworks: FIX 4.4 acceptor on {acceptor.host}:{acceptor.port} "
          f"as {settings.comp_id} ({len(settings.sessions)} sessions)", flush=True)
    return acceptor


def _redis(config: NodeConfig) -> Redis:
    from redis.asyncio import Redis

    return Redis.from_url(config.redis, socket_timeout=0.5, socket_connect_timeout=0.5)


def shared_sessions(config: NodeConfig) -> SessionStore | None:
    """With ``--redis``: users' sessions and their revocations, seen by every process."""
    if not config.redis:
        return None
    from store.sessions import RedisSessions

    return RedisSessions(_redis(config), config.redis_prefix)


def shared_nonces(config: NodeConfig) -> RedisNonces | None:
    """With ``--redis``: signature nonces claimed across every gateway process."""
    if not config.redis:
        return None
    from store.nonces import RedisNonces

    return RedisNonces(_redis(config), config.redis_prefix)


def shared_key_limiter(config: NodeConfig, name: str = "ws-key",
                       rate: float | None = None) -> KeyLimiter | None:
    """With ``--redis``: a per-key limit shared by every gateway process."""
    if not config.redis:
        return None
    from store.ratelimit import RedisBuckets, SharedLimiter

    redis = _redis(config)
    rate = config.ws_key_messages_per_s if rate is None else rate
    print(f"gridworks: {name} limits shared through Redis")
    return SharedLimiter(RedisBuckets(redis, config.redis_prefix), name, rate, 2 * rate)


async def start_rest(gateway: Gateway, config: NodeConfig) -> RestServer | None:
    """The REST API on its own port, with history from PostgreSQL when configured."""
    if config.rest_port < 0:
        return None
    from gateway.limits import LocalKeyLimiter
    from gateway.rest.app import RestServer

    history = None
    if config.pg:
        import asyncpg

        history = await asyncpg.create_pool(config.pg, min_size=0, max_size=4)
    rate = config.rest_requests_per_s
    limiter = shared_key_limiter(config, "rest-key", rate) or LocalKeyLimiter(rate, 2 * rate)
    board = None
    if config.redis:
        from store.leaderboard import Leaderboard

        board = Leaderboard(_redis(config), config.redis_prefix)
    rest = RestServer(gateway, limiter, history, config.host, config.rest_port, board)
    await rest.start()
    if board is not None:
        from gridworks import leaderboard

        rest.background.append(asyncio.create_task(leaderboard.run(gateway, board),
                                                   name="gridworks-leaderboard"))
    print(f"gridworks: REST API on http://{config.host}:{rest.port}/ "
          f"(OpenAPI: /openapi.json, docs: /docs)")
    return rest


def start_fanout(gateway: Gateway, config: NodeConfig) -> asyncio.Task[None] | None:
    """With ``--redis``: every public channel to Redis, for `gridworks relay` processes."""
    if not config.redis:
        return None
    from bus.redis_fanout import FanoutPublisher

    publisher = FanoutPublisher(_redis(config), gateway, config.redis_prefix)
    publisher.attach()
    print("gridworks: market data published to Redis for relays (gridworks relay)")
    return asyncio.create_task(publisher.run(), name="gridworks-fanout")


def start_projector(node: Node, config: NodeConfig) -> tuple[Projector | None,
                                                               asyncio.Task[None] | None]:
    """With ``--pg``: the history projector, following the node from where the database is."""
    if not config.pg:
        return None, None
    from gridworks.config import core_config
    from store.projector import Projector

    assert node.core is not None
    projector = Projector(config.data_dir, core_config(config), config.pg,
                          durable_seq=node.core.last_seq)
    node.listeners.append(projector.feed)
    print("gridworks: projecting history into PostgreSQL (lag on /status and /metrics)")
    return projector, asyncio.create_task(projector.run(), name="gridworks-projector")


def start_publisher(node: Node, config: NodeConfig) -> tuple[KafkaPublisher | None,
                                                               asyncio.Task[None] | None]:
    """With ``--kafka``: the event topics, following the node from the last checkpoint."""
    if not config.kafka:
        return None, None
    from bus.kafka import KafkaConfig, KafkaPublisher
    from gridworks.config import core_config

    assert node.core is not None
    settings = KafkaConfig(config.kafka, prefix=config.kafka_prefix, format=config.kafka_format,
                           idempotent=config.kafka_idempotent,
                           partitions=config.kafka_partitions)
    publisher = KafkaPublisher(config.data_dir, core_config(config), settings,
                               durable_seq=node.core.last_seq)
    node.listeners.append(publisher.feed)
    print(f"gridworks: publishing events to Kafka at {config.kafka} (lag on /status)")
    return publisher, asyncio.create_task(publisher.run(), name="gridworks-kafka")


def _start_simulator(node: object, config: NodeConfig) -> asyncio.Task[None] | None:
    if not config.simulate:
        return None
    from gridworks.simulator import SimConfig, run_simulator

    sim = SimConfig(seed=config.sim_seed, speed=config.sim_speed)
    print(f"gridworks: market simulator on (speed {sim.speed:g}, seed {sim.seed}): "
          "accounts sim-maker-* quote every instrument, sim-taker-* trade against them")
    task = asyncio.create_task(run_simulator(node, sim), name="gridworks-simulator")  # type: ignore[arg-type]
    task.add_done_callback(_report_simulator_end)
    return task


def _report_simulator_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        print(f"gridworks: the market simulator stopped: {task.exception()!r}", file=sys.stderr)


def print_first_credentials(made: list[Credentials], config: NodeConfig) -> None:
    from gridworks.admin import DEMO, credentials_path

    for credentials in made:
        path = credentials_path(config.data_dir, credentials.name)
        if credentials.name == DEMO:
            print(f"gridworks: demo trader: account {credentials.account} {credentials.name!r}, "
                  f"key id {credentials.key_id}, secret {credentials.secret}")
        print(f"gridworks: {credentials.name} credentials saved in {path} (owner only)")
