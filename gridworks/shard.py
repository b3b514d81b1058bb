"""One engine process of a cluster shard: a hot standby that becomes the leader when it wins
the shard's lease, and goes back to standing by when it loses it.

    standby:  follow the log (a `Replica`), try the lease every ``poll_s``
    leader:   fence -> read to the fence -> pump requests into log entries, renew the lease,
              run the trading session's own commands (marks, square-off, end of day)

The leader reads its own fence back before it writes anything, so it starts from the
whole log its predecessor wrote, and takes requests from just past the last one that an
applied entry holds (`LogApplier.requests_hi`): nothing is taken twice, nothing skipped. An
append that fails ends the leadership rather than being retried — a retry could put the
same requests in the log twice — and the next leader (maybe this process again) starts
cleanly from the log. See `engine.commandlog` for why a deposed leader's entries are
harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis

from bus.commandlog import Request, ShardLog, decode_requests, ensure_topics, entry_record
from bus.lease import Lease
from engine.commandlog import EntryKind, EntryMeta, RequestRef, concat
from engine.commands import Command, CommandBatch, Mark
from engine.core import CoreConfig
from engine.layout import E_KIND, EV_TRADED
from gridworks.node import NodeStoppedError
from gridworks.replica import Replica
from gridworks.session import SessionSchedule

log = logging.getLogger("gridworks.shard")


def _commands(request: Request | int) -> int:
    return 0 if isinstance(request, int) else len(request.batch)


def run_name(node_id: str) -> str:
    """A requester name for this run of a process (its request numbers start at 1)."""
    return f"{node_id}#{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ShardSettings:
    node_id: str
    lease_ms: int = 1_000
    poll_s: float = 0.1  # how often a standby tries the lease
    max_entry: int = 2_000  # commands per log entry at most
    request_wait_ms: int = 5  # the leader's fetch wait on the requests partition
    mark_interval_ms: int = 1_000
    square_off_at: str = ""
    end_of_day_at: str = ""


class ShardEngine:
    def __init__(self, shard_log: ShardLog, core_config: CoreConfig, redis: Redis,
                 redis_prefix: str, settings: ShardSettings,
                 bootstrap: Callable[[], list[Command]],
                 clock: Callable[[], int] = time.time_ns, snapshots: Path | None = None,
                 snapshot_every: int = 0) -> None:
        self.log = shard_log
        self.settings = settings
        self.clock = clock
        self.bootstrap = bootstrap
        # The requester name is new every run: request numbers start again at 1.
        self.replica = Replica(shard_log, core_config, client_id=run_name(settings.node_id),
                               snapshots=snapshots, snapshot_every=snapshot_every)
        self.replica.sender = self._queue_local
        self.replica.listeners.append(self._watch_trades)
        self.lease = Lease(redis, redis_prefix, shard_log.shard, settings.node_id,
                           settings.lease_ms)
        self.role = "standby"
        self.epoch = 0
        self.leaderships = 0
        self.leading = asyncio.Event()  # set while this process leads
        self.on_lead: list[Callable[[], object]] = []  # called once leadership is ready
        self._local: list[tuple[int, CommandBatch]] = []
        self._traded_since_mark = False

    async def start(self) -> None:
        await ensure_topics(self.log)
        await self.replica.start()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.lease.release()
        await self.replica.stop()

    async def run(self) -> None:
        """Stand by and lead, for as long as the process runs."""
        while True:
            try:
                epoch = await self.lease.acquire(self.replica.applier.epoch)
            except Exception:  # Redis is away: no one leads until it is back
                log.warning("shard %d: the lease cannot be reached", self.log.shard)
                epoch = None
            if epoch is None:
                await asyncio.sleep(self.settings.poll_s)
                continue
            try:
                await self._lead(epoch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("shard %d: leadership at epoch %d ended by an error",
                              self.log.shard, epoch)
            finally:
                self.role, self.leading = "standby", asyncio.Event()
                with contextlib.suppress(Exception):
                    await self.lease.release()
            await asyncio.sleep(self.settings.poll_s)

    # --- leading -------------------------------------------------------------------------------

    async def _lead(self, epoch: int) -> None:
        keeper = asyncio.create_task(self._keep_lease(epoch), name="shard-lease")
        producer = self.log.producer()
        tasks = [keeper]
        try:
            await producer.start()
            fence = EntryMeta(EntryKind.FENCE, epoch, self.clock(), self.settings.node_id)
            offset = await self._append(producer, fence, None)
            await self.replica.reached(offset)
            applier = self.replica.applier
            if applier.epoch != epoch or applier.leader != self.settings.node_id:
                log.warning("shard %d: fence at epoch %d lost to epoch %d", self.log.shard,
                            epoch, applier.epoch)
                return
            if keeper.done():
                return
            self.role, self.epoch = "leader", epoch
            self.leaderships += 1
            self.leading.set()
            log.warning("shard %d: leading at epoch %d from offset %d", self.log.shard, epoch,
                        offset)
            tasks += [asyncio.create_task(self._pump(producer, epoch), name="shard-pump"),
                      asyncio.create_task(self._session(), name="shard-session")]
            if self.replica.core is not None and self.replica.core.last_seq == 0:
                await self.replica.submit(self.bootstrap())
            for callback in self.on_lead:
                result = callback()
                if asyncio.iscoroutine(result):
                    await result
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await producer.stop()

    async def _keep_lease(self, epoch: int) -> None:
        """Renew the lease; return when it is lost or a newer fence appears in the log."""
        every = self.settings.lease_ms / 3_000
        while True:
            await asyncio.sleep(every)
            if self.replica.applier.epoch > epoch:
                log.warning("shard %d: fenced by epoch %d", self.log.shard,
                            self.replica.applier.epoch)
                return
            try:
                if not await self.lease.renew():
                    log.warning("shard %d: the lease is no longer ours", self.log.shard)
                    return
            except Exception:
                log.warning("shard %d: the lease could not be renewed", self.log.shard)
                return

    async def _pump(self, producer: AIOKafkaProducer, epoch: int) -> None:
        """Requests (and this process's own commands) into log entries, in order."""
        consumer = self.log.consumer()
        await consumer.start()
        try:
            partition = self.log.requests
            consumer.assign([partition])
            cursor = self.replica.applier.requests_hi
            consumer.seek(partition, cursor + 1)
            waiting: deque[Request | int] = deque()  # read, not yet in an entry
            while True:
                if not waiting:
                    found = await consumer.getmany(
                        partition, timeout_ms=self.settings.request_wait_ms,
                        max_records=self.settings.max_entry)
                    waiting.extend(decode_requests(found.get(partition, [])))
                local, self._local = self._local, []
                if not waiting and not local:
                    continue
                refs: list[RequestRef] = []
                batches: list[CommandBatch] = []
                size = 0
                for number, batch in local:
                    refs.append(RequestRef(self.replica.client_id, number, len(batch)))
                    batches.append(batch)
                    size += len(batch)
                # An entry holds at most max_entry commands (a request larger goes alone), so
                # no log record outgrows what the broker accepts.
                while waiting and (size == 0 or size + _commands(waiting[0])
                                   <= self.settings.max_entry):
                    request = waiting.popleft()
                    if isinstance(request, int):  # unreadable: passed over
                        cursor = request
                        continue
                    cursor = request.offset
                    refs.append(RequestRef(request.gateway, request.number, len(request.batch)))
                    batches.append(request.batch)
                    size += len(request.batch)
                meta = EntryMeta(EntryKind.COMMANDS, epoch, self.clock(), self.settings.node_id,
                                 tuple(refs), cursor)
                await self._append(producer, meta, concat(batches) if batches else None)
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _append(self, producer: AIOKafkaProducer, meta: EntryMeta,
                      batch: CommandBatch | None) -> int:
        value, headers = entry_record(meta, batch)
        partition = self.log.commands
        sent = await producer.send_and_wait(partition.topic, value,
                                            partition=partition.partition, headers=headers)
        return int(sent.offset)

    def _queue_local(self, number: int, batch: CommandBatch) -> None:
        """This process's own commands go into the leader's next entry (a standby's are
        refused: only the leader writes)."""
        if self.role != "leader":
            self.replica.fail(number, "this engine is standing by")
            return
        self._local.append((number, batch))

    # --- the trading session's own commands ------------------------------------------------------

    def _watch_trades(self, batch: CommandBatch, events: object) -> None:
        if (events[:, E_KIND] == EV_TRADED).any():  # type: ignore[index]
            self._traded_since_mark = True

    async def _session(self) -> None:
        core = self.replica.core
        if core is None or core.risk is None:
            return
        schedule = SessionSchedule(mark_interval_ms=self.settings.mark_interval_ms,
                                   square_off_at=self.settings.square_off_at,
                                   end_of_day_at=self.settings.end_of_day_at,
                                   closed_day=core.risk.state().closed_day)
        while True:
            await asyncio.sleep(0.05)
            commands = schedule.due(self.clock(), self._traded_since_mark)
            if commands:
                if any(isinstance(c, Mark) for c in commands):
                    self._traded_since_mark = False
                try:
                    await self.replica.submit(commands)
                except (TimeoutError, NodeStoppedError):  # the schedule offers them again
                    log.warning("shard %d: session commands not applied", self.log.shard)

    def status(self) -> dict[str, object]:
        return {**self.replica.status(), "role": self.role, "epoch": self.epoch,
                "node_id": self.settings.node_id, "leaderships": self.leaderships}
