"""A replica of a cluster shard: a core that follows the shard's command log on Kafka.

Every process of a shard holds one — the leader, its hot standbys and every gateway — and
they all apply the same entries by the same rule (`engine.commandlog`), so each holds the
shard's state at the offset it has read. A gateway is stateless in that sense: it starts
empty, reads the log, and then answers queries, builds feeds and checks logins from its own
copy, exactly as the single-process gateway does from the node's core.

Commands go the other way as requests (`bus.commandlog`): `enqueue` sends them through
``sender`` and returns a future that resolves when the replica applies the log entry that
holds them, with the same `Receipt` a node gives. So an acknowledgement means the command
is on every in-sync replica of the log and was applied by the rule; a request that no entry
brings back within ``request_timeout_s`` fails, and the client hears that its outcome is
unknown (it can then look the order up by its client order id).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bus.commandlog import ShardLog, decode_entry
from engine.commandlog import Admitted, LogApplier, LogEntry, RequestRef, request_bounds
from engine.commands import Command, CommandBatch, InvalidCommandError
from engine.core import Core, CoreConfig
from engine.layout import E_SEQ
from engine.sequencer import shard_order_ids
from gridworks import replica_snapshots
from gridworks.node import Listener, NodeStoppedError, Receipt, core_status

log = logging.getLogger("gridworks.replica")
Sender = Callable[[int, CommandBatch], None]  # (request number, unstamped commands)
# Every request of an applied entry, with the events its commands caused.
RequestWatcher = Callable[[RequestRef, np.ndarray], None]


@dataclass
class _Waiting:
    future: asyncio.Future[Receipt]
    deadline: float


@dataclass
class ReplicaStats:
    entries: int = 0
    applied_entries: int = 0
    commands: int = 0
    requests: int = 0
    timed_out: int = 0
    started_at: float = field(default_factory=time.time)


class Replica:
    def __init__(self, shard_log: ShardLog, core_config: CoreConfig, client_id: str, *,
                 request_timeout_s: float = 10.0, snapshots: Path | None = None,
                 snapshot_every: int = 0, publish_catch_up: bool = False) -> None:
        self.log = shard_log
        self.core_config = core_config
        self.core: Core | None = Core(core_config)
        self.applier = LogApplier(order_id_base=shard_order_ids(shard_log.shard))
        self.snapshots = snapshots  # where to keep snapshots (None: start from offset 0)
        self.snapshot_every = snapshot_every  # commands between snapshots (0: never)
        self.last_snapshot_seq = 0
        self.client_id = client_id
        # Listeners also get the catch-up at start (a gateway numbering its channels by
        # the log must see every entry); else only what follows it.
        self.publish_catch_up = publish_catch_up
        self.request_timeout_s = request_timeout_s
        self.listeners: list[Listener] = []
        self.sender: Sender | None = None
        self.watcher: RequestWatcher | None = None
        # Called with every applied batch, the catch-up at start included, as it is
        # applied: a local journal of the log.
        self.recorders: list[Listener] = []
        self.stats = ReplicaStats()
        self._pending: dict[int, _Waiting] = {}
        self._numbers = itertools.count(1)
        self._progress = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer = None
        self._stopped = False

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """From the newest snapshot (if any), read the log to its current end, then keep
        following it."""
        if self.snapshots is not None:
            loaded = await asyncio.to_thread(replica_snapshots.load, self.snapshots,
                                             self.core_config.book,
                                             shard_order_ids(self.log.shard))
            if loaded is not None:
                self.core, self.applier = loaded
                self.last_snapshot_seq = self.core.last_seq
                log.info("replica of shard %d starts from its snapshot at seq %d (offset %d)",
                         self.log.shard, self.core.last_seq, self.applier.next_offset)
        consumer = self.log.consumer()
        await consumer.start()
        self._consumer = consumer
        partition = self.log.commands
        consumer.assign([partition])
        consumer.seek(partition, self.applier.next_offset)
        end = (await consumer.end_offsets([partition]))[partition]
        while self.applier.next_offset < end:
            await self._read_once(consumer, publish=self.publish_catch_up)
        self._tasks = [asyncio.create_task(self._follow(consumer), name="replica-follow"),
                       asyncio.create_task(self._expire(), name="replica-expire")]

    async def stop(self) -> None:
        self._stopped = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
        for waiting in self._pending.values():
            if not waiting.future.done():
                waiting.future.set_exception(NodeStoppedError("the replica stopped"))
        self._pending.clear()

    async def _follow(self, consumer: object) -> None:
        while True:
            try:
                await self._read_once(consumer, publish=True)
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker blinked: aiokafka reconnects, we read on
                log.exception("reading the command log failed; retrying")
                await asyncio.sleep(0.2)

    async def _read_once(self, consumer: object, publish: bool) -> None:
        found = await consumer.getmany(self.log.commands, timeout_ms=500,  # type: ignore[attr-defined]
                                       max_records=2_000)
        published: list[tuple[CommandBatch, np.ndarray]] = []
        for messages in found.values():
            for m in messages:
                applied = self.apply(decode_entry(m.offset, m.value, m.headers or ()))
                if applied is not None and publish and self.listeners:
                    published.append(applied)
        if published:
            loop = asyncio.get_running_loop()
            # Two turns later, as the node does: the replies go out before the feeds.
            loop.call_soon(loop.call_soon, self._publish, published)
        if found:
            async with self._progress:
                self._progress.notify_all()
            await self._snapshot_if_due()

    async def _snapshot_if_due(self) -> None:
        core = self.core
        if (self.snapshots is None or not self.snapshot_every or core is None
                or core.last_seq - self.last_snapshot_seq < self.snapshot_every):
            return
        # The follow loop waits here, so the core stands still while its image is taken.
        await asyncio.to_thread(replica_snapshots.save, self.snapshots, core, self.applier)
        self.last_snapshot_seq = core.last_seq

    # --- applying ------------------------------------------------------------------------------

    def apply(self, entry: LogEntry) -> tuple[CommandBatch, np.ndarray] | None:
        """Apply one entry by the rule; the batch and its events if the core applied it."""
        self.stats.entries += 1
        admitted = self.applier.admit(entry)
        if admitted is None:
            return None
        assert self.core is not None
        events = self.core.apply(admitted.batch)
        self.stats.applied_entries += 1
        self.stats.commands += len(admitted.batch)
        for record in self.recorders:
            record(admitted.batch, events)
        self._answer(admitted, events)
        return admitted.batch, events

    def _answer(self, admitted: Admitted, events: np.ndarray) -> None:
        watcher = self.watcher
        if watcher is None and not self._pending:
            return
        seqs = events[:, E_SEQ]
        for ref, first, last in request_bounds(admitted):
            mine = ref.gateway == self.client_id and ref.number in self._pending
            if watcher is None and not mine:
                continue
            lo, hi = np.searchsorted(seqs, [first, last + 1]).tolist()
            if watcher is not None:
                watcher(ref, events[lo:hi])
            if mine:
                waiting = self._pending.pop(ref.number)
                if not waiting.future.done():
                    waiting.future.set_result(Receipt(first, last, events[lo:hi]))

    def _publish(self, published: list[tuple[CommandBatch, np.ndarray]]) -> None:
        for batch, events in published:
            for listener in self.listeners:
                try:
                    listener(batch, events)
                except Exception:  # a listener's bug must not stop the replica
                    log.exception("event listener failed at seq %d", batch.first_seq)

    async def reached(self, offset: int, timeout_s: float = 30.0) -> None:
        """Wait until the entry at ``offset`` has been read and decided."""
        async with asyncio.timeout(timeout_s), self._progress:
            await self._progress.wait_for(lambda: self.applier.next_offset > offset)

    # --- submitting (what a gateway needs of a node) -------------------------------------------

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def enqueue(self, commands: list[Command]) -> asyncio.Future[Receipt]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Receipt] = loop.create_future()
        if self._stopped or self.sender is None:
            raise NodeStoppedError("the replica is not sending requests")
        try:
            batch = CommandBatch.of(list(commands))
        except (OverflowError, ValueError, TypeError) as exc:
            future.set_exception(InvalidCommandError(str(exc)))
            return future
        number = next(self._numbers)
        self._pending[number] = _Waiting(future, time.monotonic() + self.request_timeout_s)
        self.stats.requests += 1
        self.sender(number, batch)
        return future

    async def submit(self, commands: list[Command]) -> Receipt:
        return await self.enqueue(commands)

    def fail(self, number: int, reason: str) -> None:
        """A request that will never reach the log (its send failed)."""
        waiting = self._pending.pop(number, None)
        if waiting is not None and not waiting.future.done():
            waiting.future.set_exception(NodeStoppedError(reason))

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            now = time.monotonic()
            late = [n for n, w in self._pending.items() if w.deadline <= now]
            for number in late:
                waiting = self._pending.pop(number)
                self.stats.timed_out += 1
                if not waiting.future.done():
                    waiting.future.set_exception(TimeoutError("no log entry brought it back"))

    # --- views ---------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        assert self.core is not None
        a = self.applier
        return {
            **core_status(self.core),
            "shard": self.log.shard,
            "log": {"next_offset": a.next_offset, "epoch": a.epoch, "leader": a.leader,
                    "skipped_entries": a.skipped, "requests_hi": a.requests_hi},
            "pending_requests": len(self._pending),
            "uptime_s": round(time.time() - self.stats.started_at, 3),
        }
