"""A router's FIX acceptor: FIX sessions that trade on every shard of a cluster.

The router follows each shard's log with a replica of its own (snapshots under
``<data>/shard<K>``), and each replica carries a gateway that is never served: the order
records and the order entry the acceptor needs. The acceptor sends each order-entry
message to the shard owning its Symbol(55) through that shard's requests topic, and turns
every shard's log into the sessions' ExecutionReports (`gateway.fix.acceptor`). Its
sessions' state lives in the router's data directory, so a FIX router keeps a volume of
its own, as a gateway serving FIX does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gridworks.config import NodeConfig, gateway_limits, with_overrides

if TYPE_CHECKING:
    from gateway.fix.acceptor import FixAcceptor
    from gateway.server import Gateway
    from gridworks.replica import Replica
    from gridworks.requests import RequestSender


@dataclass
class ShardLeg:
    replica: Replica
    sender: RequestSender
    gateway: Gateway


async def shard_legs(config: NodeConfig) -> list[ShardLeg]:
    """A replica of every shard, caught up and able to send requests, with its gateway."""
    from accounts import keys
    from gateway.server import Gateway, GatewayConfig
    from gridworks.cluster_roles import shard_replica
    from gridworks.requests import RequestSender

    kek = keys.load_kek(config.data_dir)
    legs = []
    for shard in range(config.shards):
        own = with_overrides(config, shard=shard, data_dir=config.data_dir / f"shard{shard}",
                             node_id=f"{config.node_id}-s{shard}")
        own.data_dir.mkdir(parents=True, exist_ok=True)
        replica = await shard_replica(own)
        gateway = Gateway(replica, kek, GatewayConfig(limits=gateway_limits(config),
                                                      shard=shard))  # type: ignore[arg-type]
        gateway.follow()
        await replica.start()
        while replica.core is not None and not replica.core.specs:
            await asyncio.sleep(0.2)  # the shard's first leader sets its market up
        sender = RequestSender(replica)
        await sender.start()
        legs.append(ShardLeg(replica, sender, gateway))
    return legs


async def start(config: NodeConfig) -> tuple[FixAcceptor | None, list[ShardLeg]]:
    """With ``--fix-config``: the acceptor over every shard's replica."""
    if not config.fix_config:
        return None, []
    from gridworks.commands_serve import start_fix

    legs = await shard_legs(config)
    return await start_fix([leg.gateway for leg in legs], config), legs


async def stop(acceptor: FixAcceptor | None, legs: list[ShardLeg]) -> None:
    if acceptor is not None:
        await acceptor.stop()
    for leg in legs:
        await leg.gateway.stop()
        await leg.sender.stop()
        await leg.replica.stop()
