"""A gateway's requests to a shard: commands produced to the shard's requests partition, in
the order the gateway queued them, never waited for by the caller (its answer comes back
through the log, see `gridworks.replica`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaProducer

from bus.commandlog import request_record
from engine.commands import CommandBatch
from gridworks.replica import Replica

log = logging.getLogger("gridworks.requests")


class RequestSender:
    def __init__(self, replica: Replica) -> None:
        self.replica = replica
        self._queue: asyncio.Queue[tuple[str, int, CommandBatch]] = asyncio.Queue()
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0

    async def start(self) -> None:
        self._producer = self.replica.log.producer()
        await self._producer.start()
        self.replica.sender = self.send
        self._task = asyncio.create_task(self._run(), name="gateway-requests")

    async def stop(self) -> None:
        self.replica.sender = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()

    def send(self, number: int, batch: CommandBatch) -> None:
        self._queue.put_nowait((self.replica.client_id, number, batch))

    def send_as(self, requester: str, number: int, batch: CommandBatch) -> None:
        """A request in another requester's name and numbering (its answer comes back to
        whoever watches for it, not to the replica's waiting futures)."""
        self._queue.put_nowait((requester, number, batch))

    async def _run(self) -> None:
        assert self._producer is not None
        partition = self.replica.log.requests
        while True:
            requester, number, batch = await self._queue.get()
            value, headers = request_record(requester, number, batch)
            try:
                delivery = await self._producer.send(partition.topic, value,
                                                     partition=partition.partition,
                                                     headers=headers)
            except Exception as exc:
                self._failed(number, exc)
                continue
            delivery.add_done_callback(lambda done, n=number: self._delivered(n, done))

    def _delivered(self, number: int, done: asyncio.Future) -> None:
        if done.cancelled() or done.exception() is not None:
            self._failed(number, done.exception() if not done.cancelled() else None)
        else:
            self.sent += 1

    def _failed(self, number: int, exc: BaseException | None) -> None:
        self.failed += 1
        log.warning("request %d was not sent: %r", number, exc)
        self.replica.fail(number, "the request could not be sent to the shard")
