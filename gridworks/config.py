"""Node configuration: defaults for the embedded node, overridable by flags and environment.

Every setting has an environment variable ``GRIDWORKS_<NAME>`` (for example
``GRIDWORKS_DATA_DIR=/var/lib/gridworks``); a command-line flag wins over the environment.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from engine.core import CoreConfig
from engine.journal import FsyncPolicy
from engine.sequencer import shard_order_ids
from gateway.limits import Limits
from gridworks.idle import IdlePolicy
from gridworks.session import clock_time


class NodeConfig(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8080
    fsync: FsyncPolicy = "fsync"
    idle: IdlePolicy = "sleep"  # between orders: block in epoll, or keep polling (idle.py)
    # With idle "spin": how long after the last batch the loop keeps polling.
    spin_linger_ms: Annotated[int, msgspec.Meta(ge=0)] = 50
    snapshot_every: int = 200_000  # commands between snapshots; 0 disables them
    snapshot_keep: int = 3
    book: Literal["fast", "reference"] = "fast"
    max_batch: int = 4_096  # commands per group commit at most
    open_market: bool = True  # on first start, open every instrument for continuous trading
    max_orders: int = 262_144
    max_accounts: int = 100_000
    mark_interval_ms: int = 100  # mark after trades at most this often (0: every batch, <0: never)
    square_off_at: str = "15:20"  # Indian time; intraday positions are closed ("" = never)
    end_of_day_at: str = "16:00"  # Indian time; charges posted, day rolled ("" = never)
    demo_accounts: bool = True  # create the operator and a funded demo trader if missing
    ws_messages_per_s: float = 50.0  # per WebSocket connection, burst twice that
    ws_key_messages_per_s: float = 200.0  # per API key over all its connections
    ws_max_subscriptions: int = 200  # per connection
    ws_connections_per_key: int = 8
    ws_connections_per_ip: int = 64
    ws_heartbeat_s: float = 1.0
    ws_max_backlog: int = 20_000  # trading requests waiting for the journal before SERVER_BUSY
    allowed_origins: str = ""  # comma-separated browser origins besides the server's own
    web_root: str = ""  # a built web client to serve at / ("": the packaged terminal)
    simulate: bool = False  # run the market simulator's makers and takers in the node
    sim_speed: float = 1.0  # multiplies the simulator's order rates
    sim_seed: int = 7
    rest_port: int = 8081  # the REST API's port (-1: no REST API)
    rest_requests_per_s: float = 10.0  # REST requests per second per API key, burst twice that
    pg: str = ""  # PostgreSQL DSN for history (the projector); "" = none
    redis: str = ""  # Redis URL shared by gateway processes; "" = none
    redis_prefix: str = "gridworks"  # the keys this deployment uses in Redis
    kafka: str = ""  # Kafka bootstrap servers: publish the event topics there; "" = none
    kafka_prefix: str = ""  # put before every topic name
    kafka_format: Literal["json", "msgpack"] = "json"
    kafka_idempotent: bool = True  # the idempotent producer (off for brokers without it)
    kafka_partitions: int = 6  # for topics the publisher creates
    fix_config: str = ""  # a TOML file of FIX sessions: the acceptor runs when given
    fix_port: int = -1  # the FIX acceptor's port (-1: the one in the FIX config file)
    role: Literal["single", "engine", "gateway", "follower", "router"] = "single"  # cluster mode
    shard: int = 0  # the shard this engine or gateway serves (its log partition)
    shards: int = 1  # partitions of the cluster's log and requests topics
    shard_symbols: str = ""  # the instruments this shard owns, comma-separated ("": its share)
    node_id: str = ""  # this process's name in the cluster ("": host and process id)
    lease_ms: int = 1_000  # an engine's leadership lease; a dead leader's is taken after it
    fetch_wait_ms: int = 5  # longest wait of a log fetch (Kafka answers sooner with data)
    # A router's gateways per shard: "0=ws://a:8080/,ws://b:8080/;1=ws://c:8080/".
    shard_gateways: str = ""
    # A router's REST APIs of the shards' gateways: "0=http://a:8081/;1=http://c:8081/"
    # ("": the router serves no REST API).
    shard_rest: str = ""
    # Gateways behind routers: the routers' addresses or networks (10.244.0.0/16), whose
    # X-Forwarded-For names the client (for per-address limits and keys' address
    # allow-lists); comma-separated.
    trusted_proxies: str = ""


TIMES_OF_DAY = {"square_off_at", "end_of_day_at"}
ENV_PREFIX = "GRIDWORKS_"
TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting has a value its field cannot take; the message names the setting."""


def _coerce(name: str, value: object, source: str) -> object:
    field = next(f for f in msgspec.structs.fields(NodeConfig) if f.name == name)
    if isinstance(value, str) and field.type is bool:
        lowered = value.strip().lower()
        if lowered not in TRUE | FALSE:
            raise ConfigError(f"{source}: expected true or false, got {value!r}")
        return lowered in TRUE
    if field.type is Path:
        return Path(value)  # type: ignore[arg-type]
    try:
        converted = msgspec.convert(value, field.type, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc} (got {value!r})") from None
    if name in TIMES_OF_DAY:
        try:
            clock_time(converted)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return converted


def gateway_limits(config: NodeConfig) -> Limits:
    """The gateway's limits as configured (the rest keep their defaults)."""
    origins = tuple(o.strip() for o in config.allowed_origins.split(",") if o.strip())
    return Limits(messages_per_s=config.ws_messages_per_s,
                  key_messages_per_s=config.ws_key_messages_per_s,
                  max_subscriptions=config.ws_max_subscriptions,
                  connections_per_key=config.ws_connections_per_key,
                  connections_per_ip=config.ws_connections_per_ip,
                  heartbeat_s=config.ws_heartbeat_s, max_backlog=config.ws_max_backlog,
                  allowed_origins=origins, trusted_proxies=trusted_proxies(config))


def trusted_proxies(config: NodeConfig) -> tuple[str, ...]:
    proxies = tuple(a.strip() for a in config.trusted_proxies.split(",") if a.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(f"GRIDWORKS_TRUSTED_PROXIES: {proxy!r} is not an address or "
                              "a network") from None
    return proxies


TERMINAL = Path(__file__).resolve().parent / "terminal"  # the web terminal's build, packaged


def shard_gateways(config: NodeConfig) -> dict[int, list[str]]:
    """A router's gateways of each shard, from ``shard_gateways``."""
    return _shard_urls(config.shard_gateways, "GRIDWORKS_SHARD_GATEWAYS", config.shards)


def shard_rest(config: NodeConfig) -> dict[int, list[str]]:
    """A router's REST APIs of each shard's gateways, from ``shard_rest`` (none if unset)."""
    if not config.shard_rest:
        return {}
    return _shard_urls(config.shard_rest, "GRIDWORKS_SHARD_REST", config.shards)


def _shard_urls(text: str, setting: str, shards: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        shard, equals, urls = part.partition("=")
        if not equals or not shard.strip().isdigit():
            raise ConfigError(f"{setting}: {part!r} is not SHARD=URL[,URL...]")
        out[int(shard)] = [u.strip() for u in urls.split(",") if u.strip()]
    if sorted(out) != list(range(shards)) or not all(out.values()):
        raise ConfigError(f"{setting} must name gateways for each of the "
                          f"{shards} shards (0 to {shards - 1})")
    return out


def web_root(config: NodeConfig) -> Path | None:
    """Where the web terminal's built files are, if anywhere: the configured directory, or
    the build that ships in this package (``npm run build`` writes it)."""
    if config.web_root:
        return Path(config.web_root)
    return TERMINAL if (TERMINAL / "index.html").is_file() else None


def core_config(config: NodeConfig) -> CoreConfig:
    """The core's configuration for a node (the same for serving, replay and snapshots)."""
    return CoreConfig(book=config.book, max_orders=config.max_orders,
                      max_accounts=config.max_accounts,
                      order_id_base=shard_order_ids(config.shard))


def from_environment(base: NodeConfig | None = None) -> NodeConfig:
    """``base`` with every field that has a ``GRIDWORKS_*`` variable replaced by it."""
    config = base or NodeConfig()
    updates: dict[str, object] = {}
    for field in msgspec.structs.fields(NodeConfig):
        variable = ENV_PREFIX + field.name.upper()
        raw = os.environ.get(variable)
        if raw is not None:
            updates[field.name] = _coerce(field.name, raw, variable)
    return msgspec.structs.replace(config, **updates) if updates else config


def with_overrides(config: NodeConfig, **overrides: object) -> NodeConfig:
    """``config`` with the given fields replaced; ``None`` values are ignored."""
    given = {k: _coerce(k, v, "--" + k.replace("_", "-"))
             for k, v in overrides.items() if v is not None}
    return msgspec.structs.replace(config, **given) if given else config
