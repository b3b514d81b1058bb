"""``gridworks serve --role engine|gateway``: the two processes of cluster mode.

* **engine** — one of a shard's engines (`gridworks.shard`): a hot standby following the
  shard's log that leads when it wins the lease. Plain HTTP on ``--port``: ``/healthz``
  (200 while the process runs) and ``/status`` (role, epoch, log position, instruments).
* **follower** — a replica of the shard that keeps a journal of its own
  (`gridworks.local_journal`) and runs from it what a single node runs beside its core: the
  event-topics publisher on the same Kafka (always) and the PostgreSQL projector (with
  ``--pg``). ``/healthz`` and ``/status`` on ``--port``.
* **gateway** — the WebSocket API (and REST, and with ``--fix-config`` the FIX acceptor) of
  the single-process server, over a replica of the shard's core read from the log
  (`gridworks.replica`); its trading requests go to the shard's leader through Kafka. It
  keeps nothing of its own but its FIX sessions' state: start as many as needed.
* **router** — one WebSocket connection for clients of every shard (`gateway.router`): it
  routes each request to a gateway of the shard it belongs to and passes the pushes back;
  with ``--shard-rest`` the REST API for every shard (`gateway.rest_router`), and with
  ``--fix-config`` FIX sessions that trade on every shard (`gridworks.fix_router`).

Every process of a cluster must share the key-encryption key (``GRIDWORKS_KEK``): the
engines store API secrets encrypted with it and the gateways check signatures with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

import msgspec

from engine.recovery import snapshot_dir
from engine.sequencer import MAX_SHARDS
from gridworks.config import ConfigError, NodeConfig, core_config, shard_gateways, shard_rest

if TYPE_CHECKING:
    from bus.commandlog import ShardLog
    from engine.instruments import InstrumentSpec
    from gridworks.replica import Replica
    from gridworks.shard import ShardEngine


def run_role(config: NodeConfig) -> int:
    if config.role == "router":
        shard_gateways(config)  # names a gateway for every shard
        shard_rest(config)
        if config.fix_config and not config.kafka:
            raise ConfigError("a router's FIX acceptor (--fix-config) needs --kafka: it "
                              "follows every shard's log")
    elif not config.kafka:
        raise ConfigError(f"--role {config.role} needs --kafka (the shard's log)")
    if config.role == "engine" and not config.redis:
        raise ConfigError("--role engine needs --redis (the shard's leadership lease)")
    if not 1 <= config.shards <= MAX_SHARDS:
        raise ConfigError(f"--shards {config.shards}: a cluster has 1 to {MAX_SHARDS} shards")
    if not 0 <= config.shard < config.shards:
        raise ConfigError(f"--shard {config.shard} is not one of the {config.shards} shards")
    if config.role == "engine":
        shard_instruments(config)  # names only instruments there are
    if not config.node_id:
        config = msgspec.structs.replace(
            config, node_id=f"{config.role}-{socket.gethostname()}-{os.getpid()}")
    import uvloop

    runner = {"engine": _run_engine, "gateway": _run_gateway,
              "follower": _run_follower, "router": _run_router}[config.role]
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(runner(config))
    return 0


def shard_log(config: NodeConfig) -> ShardLog:
    from bus.commandlog import ShardLog
    from bus.kafka import KafkaConfig

    return ShardLog(KafkaConfig(config.kafka, prefix=config.kafka_prefix,
                                idempotent=config.kafka_idempotent),
                    shard=config.shard, shards=config.shards,
                    fetch_wait_ms=config.fetch_wait_ms)


async def shard_replica(config: NodeConfig, from_start: bool = False) -> Replica:
    """A replica of the configured shard (not started), once the shard's topics exist:
    with its snapshots in the data directory, or ``from_start`` reading the whole log and
    handing its listeners every entry."""
    from bus.commandlog import ensure_topics
    from gridworks.replica import Replica
    from gridworks.shard import run_name

    log = shard_log(config)
    await ensure_topics(log)
    if from_start:
        return Replica(log, core_config(config), client_id=run_name(config.node_id),
                       publish_catch_up=True)
    return Replica(log, core_config(config), client_id=run_name(config.node_id),
                   snapshots=snapshot_dir(config.data_dir),
                   snapshot_every=config.snapshot_every)


def shard_instruments(config: NodeConfig) -> list[InstrumentSpec]:
    """The demo instruments this shard owns: those ``GRIDWORKS_SHARD_SYMBOLS`` names, else
    every ``shards``-th one from the shard's index (RELIANCE on shard 0, TCS on shard 1, …)."""
    from engine.instruments import demo_instruments

    specs = demo_instruments()
    wanted = [s.strip().upper() for s in config.shard_symbols.split(",") if s.strip()]
    if not wanted:
        return [spec for i, spec in enumerate(specs) if i % config.shards == config.shard]
    unknown = sorted(set(wanted) - {spec.symbol for spec in specs})
    if unknown:
        raise ConfigError(f"GRIDWORKS_SHARD_SYMBOLS: no instrument {', '.join(unknown)}")
    return [spec for spec in specs if spec.symbol in wanted]


def shard_events(config: NodeConfig) -> NodeConfig:
    """With several shards, each shard's event topics (and their publisher's checkpoint)
    under a prefix of its own, ``shard<K>.``: their sequence numbers are the shard's."""
    if config.shards == 1:
        return config
    return msgspec.structs.replace(
        config, kafka_prefix=f"{config.kafka_prefix}shard{config.shard}.")


def shard_redis(config: NodeConfig) -> NodeConfig:
    """A gateway's Redis keys (sessions, per-key limits, market data for relays, the
    leaderboard) under its shard's own prefix: account ids, epochs and sessions are a
    shard's, so a session or a token of one shard must mean nothing on another."""
    return msgspec.structs.replace(
        config, redis_prefix=f"{config.redis_prefix}:gw{config.shard}")


async def _stopped() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


# --- engine ------------------------------------------------------------------------------------

async def _run_engine(config: NodeConfig) -> None:
    from redis.asyncio import Redis

    from accounts import keys
    from gridworks.node import bootstrap_commands
    from gridworks.shard import ShardEngine, ShardSettings
    from gridworks.status_http import StatusServer

    owned = shard_instruments(config)
    redis = Redis.from_url(config.redis, socket_timeout=0.5, socket_connect_timeout=0.5)
    settings = ShardSettings(node_id=config.node_id, lease_ms=config.lease_ms,
                             mark_interval_ms=config.mark_interval_ms,
                             square_off_at=config.square_off_at,
                             end_of_day_at=config.end_of_day_at)
    engine = ShardEngine(shard_log(config), core_config(config), redis,
                         config.redis_prefix, settings,
                         lambda: bootstrap_commands(config.open_market, owned),
                         snapshots=snapshot_dir(config.data_dir),
                         snapshot_every=config.snapshot_every)
    kek = keys.load_kek(config.data_dir)
    if config.demo_accounts:
        engine.on_lead.append(lambda: _demo_accounts(engine, kek, config))
    engine.on_lead.append(lambda: print(
        f"gridworks: {config.node_id} leads shard {config.shard} at epoch {engine.epoch}",
        flush=True))
    await engine.start()
    print(f"gridworks: engine {config.node_id} of shard {config.shard}/{config.shards} "
          f"standing by at log offset {engine.replica.applier.next_offset}", flush=True)
    status = StatusServer(engine.status, config.host, config.port)
    await status.start()
    print(f"gridworks: engine status on http://{config.host}:{status.port}/status", flush=True)
    running = asyncio.create_task(engine.run(), name="shard-engine")
    await _stopped()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await status.stop()
    await engine.stop()
    await redis.aclose()


async def _demo_accounts(engine: ShardEngine, kek: bytes, config: NodeConfig) -> None:
    from gridworks.admin import Admin, create_demo_accounts
    from gridworks.commands_serve import print_first_credentials

    replica = engine.replica
    made = await create_demo_accounts(Admin(replica, kek), config.data_dir,  # type: ignore[arg-type]
                                      cluster=True)
    print_first_credentials(made, config)
    sys.stdout.flush()


# --- follower ----------------------------------------------------------------------------------

async def _run_follower(config: NodeConfig) -> None:
    from gridworks.commands_serve import start_projector, start_publisher
    from gridworks.local_journal import LocalJournal
    from gridworks.status_http import StatusServer

    replica = await shard_replica(config)
    local = LocalJournal(config.data_dir)
    replica.recorders.append(local.record)
    await replica.start()
    print(f"gridworks: follower {config.node_id} of shard {config.shard} at seq "
          f"{replica.core.last_seq} (journal in {config.data_dir})", flush=True)
    projector, projecting = start_projector(replica, config)  # type: ignore[arg-type]
    publisher, publishing = start_publisher(replica, shard_events(config))  # type: ignore[arg-type]

    def status() -> dict[str, object]:
        parts = {"projector": projector, "kafka": publisher}
        return {**replica.status(), "journal_seq": local.last_seq,
                **{name: part.status() for name, part in parts.items() if part is not None}}
    server = StatusServer(status, config.host, config.port)
    await server.start()
    print(f"gridworks: follower status on http://{config.host}:{server.port}/status", flush=True)
    await _stopped()
    for task in (projecting, publishing):
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    await server.stop()
    await replica.stop()
    local.close()


# --- gateway -----------------------------------------------------------------------------------

async def _run_gateway(config: NodeConfig) -> None:
    config = shard_redis(config)
    from accounts import keys
    from gateway.server import Gateway, GatewayConfig
    from gridworks.admin import Admin
    from gridworks.commands_serve import (
        settle_garbage_collector,
        shared_key_limiter,
        shared_nonces,
        shared_sessions,
        start_fanout,
        start_fix,
        start_rest,
    )
    from gridworks.config import gateway_limits, web_root
    from gridworks.requests import RequestSender

    # Channels numbered by the log, as every gateway of the shard numbers them: the gateway
    # follows the replica from the log's first entry on, so a client may resume anywhere.
    replica = await shard_replica(config, from_start=True)
    kek = keys.load_kek(config.data_dir)
    gateway = Gateway(replica, kek, GatewayConfig(host=config.host, port=config.port,
                                                  limits=gateway_limits(config),
                                                  web_root=web_root(config),
                                                  key_limiter=shared_key_limiter(config),
                                                  sessions=shared_sessions(config),
                                                  nonces=shared_nonces(config),
                                                  numbered_by_log=True, shard=config.shard),
                      admin=Admin(replica, kek))  # type: ignore[arg-type]
    gateway.follow()
    await replica.start()
    while replica.core is not None and not replica.core.specs:
        print(f"gridworks: waiting for shard {config.shard}'s engine to set the market up",
              flush=True)
        await asyncio.sleep(0.5)
    sender = RequestSender(replica)
    await sender.start()
    await gateway.start()
    print(f"gridworks: gateway {config.node_id} of shard {config.shard} on "
          f"ws://{config.host}:{gateway.port}/ at seq {replica.core.last_seq}", flush=True)
    rest = await start_rest(gateway, config)
    fix = await start_fix(gateway, config)
    fanout = start_fanout(gateway, config)
    settle_garbage_collector()
    await _stopped()
    if fanout is not None:
        fanout.cancel()
        await asyncio.gather(fanout, return_exceptions=True)
    if fix is not None:
        await fix.stop()
    if rest is not None:
        await rest.stop()
    await gateway.stop()
    await sender.stop()
    await replica.stop()


# --- router ------------------------------------------------------------------------------------

async def _run_router(config: NodeConfig) -> None:
    from gateway.rest_router import RestRouter
    from gateway.router import Router
    from gridworks import fix_router
    from gridworks.config import gateway_limits

    router = Router(shard_gateways(config), config.host, config.port,
                    allowed_origins=gateway_limits(config).allowed_origins)
    await router.start()
    rest = None
    if shard_rest(config) and config.rest_port >= 0:
        rest = RestRouter(shard_rest(config), router.directory, config.host, config.rest_port)
        await rest.start()
    fix, legs = await fix_router.start(config)
    served = f" and http://{config.host}:{rest.port}/ (REST)" if rest is not None else ""
    print(f"gridworks: router {config.node_id} on ws://{config.host}:{router.port}/{served} "
          f"in front of {config.shards} shards (epoch {router.directory.epoch})", flush=True)
    await _stopped()
    await fix_router.stop(fix, legs)
    if rest is not None:
        await rest.stop()
    await router.stop()
