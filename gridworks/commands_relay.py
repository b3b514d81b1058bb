"""``gridworks relay``: a market-data WebSocket gateway fed from Redis (see `gateway.relay`),
serving a node's public channels with the node's sequence numbers; run any number of them.

    gridworks relay --redis redis://host:6379/0 [--host 0.0.0.0] [--port 8090]
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from gridworks.config import ConfigError, from_environment


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("relay", help="serve a node's market data from Redis (scale-out)")
    p.add_argument("--redis", default=None, help="Redis URL (default GRIDWORKS_REDIS)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8090)
    p.set_defaults(handler=_relay)


def _relay(args: argparse.Namespace) -> int:
    config = from_environment()
    url = args.redis or config.redis
    if not url:
        raise ConfigError("no Redis: give --redis URL or set GRIDWORKS_REDIS")
    import uvloop

    uvloop.run(_run(url, config.redis_prefix, args.host, args.port))
    return 0


async def _run(url: str, prefix: str, host: str, port: int) -> None:
    from redis.asyncio import Redis

    from bus.redis_fanout import FanoutReader
    from gateway.relay import Relay

    redis = Redis.from_url(url)
    relay = Relay(FanoutReader(redis, prefix), host, port)
    await relay.start()
    print(f"gridworks: market-data relay on ws://{host}:{relay.port}/ (epoch {relay.epoch})",
          flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await relay.stop()
    await redis.aclose()
