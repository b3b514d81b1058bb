"""A replica and a request sender for each of several shards: what a process that acts on
more than one shard of a cluster holds (the transfer desk, the account desk). Each replica
reads its shard's whole log before `start` returns, so the holder sees every shard as it
stands, and answers come back to it as receipts through the logs."""

from __future__ import annotations

import contextlib

from bus.commandlog import ShardLog
from engine.core import CoreConfig
from gridworks.replica import Replica
from gridworks.requests import RequestSender
from gridworks.shard import run_name


class ShardLinks:
    def __init__(self, logs: dict[int, ShardLog], core_config: CoreConfig, name: str,
                 request_timeout_s: float = 10.0) -> None:
        self.replicas = {shard: Replica(shard_log, core_config, client_id=run_name(name),
                                        request_timeout_s=request_timeout_s)
                         for shard, shard_log in logs.items()}
        self.senders = {shard: RequestSender(r) for shard, r in self.replicas.items()}

    async def start(self) -> None:
        for replica in self.replicas.values():
            await replica.start()
        for sender in self.senders.values():
            await sender.start()

    async def stop(self) -> None:
        for sender in self.senders.values():
            with contextlib.suppress(Exception):
                await sender.stop()
        for replica in self.replicas.values():
            with contextlib.suppress(Exception):
                await replica.stop()
