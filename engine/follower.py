"""Following a node's durable batches by sequence number, for consumers that must never slow
it down (the PostgreSQL projector, the Kafka publisher).

The node hands each durable batch to `Follower.feed`, which only appends to a bounded queue.
`Follower.next_batches(at)` gives the commands after ``at``: from the queue when it
continues from there, else read back from the journal (after a start, or after the queue
overflowed while the consumer was slow or away) up to where the queue, or the node, is.
A consumer that runs its own copy of the core (`store.shadow`) applies them and sees the
node's own events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterator
from pathlib import Path

from engine import journal
from engine.commands import CommandBatch
from engine.recovery import journal_dir


class Follower:
    def __init__(self, data_dir: Path, durable_seq: int = 0, max_queued: int = 500_000,
                 chunk: int = 20_000) -> None:
        self.data_dir = data_dir
        self.max_queued = max_queued
        self.chunk = chunk  # commands per `next_batches` at most
        self.head_seq = durable_seq  # the newest durable seq the node reported
        self.from_journal = 0  # commands read back from the journal
        self.overflows = 0
        self.queued = 0
        self._queue: deque[CommandBatch] = deque()
        self._overflowed = False
        self._wake = asyncio.Event()
        self._journal: Iterator[CommandBatch] | None = None
        self._journal_after = -1

    def feed(self, batch: CommandBatch, events: object = None) -> None:
        """A durable batch (a node listener): queued, never waited for."""
        self.head_seq = max(self.head_seq, batch.last_seq)
        if not self._overflowed:
            if self.queued + len(batch) > self.max_queued:
                self._queue.clear()
                self.queued = 0
                self._overflowed = True
                self.overflows += 1
            else:
                self._queue.append(batch)
                self.queued += len(batch)
        self._wake.set()

    async def wait(self, timeout: float = 0.5) -> None:
        """Until the node reports more (or ``timeout`` passes)."""
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    def restart(self) -> None:
        """The consumer rebuilt its core: read the journal afresh from wherever it asks."""
        self._journal = None

    async def next_batches(self, at: int) -> list[CommandBatch]:
        """The next commands after ``at`` (none when the consumer is up to date)."""
        while self._queue and self._queue[0].last_seq <= at:
            self.queued -= len(self._queue.popleft())
        if self._queue and self._queue[0].first_seq <= at + 1:
            self._journal = None
            return self._take_queued(at)
        until = self._queue[0].first_seq - 1 if self._queue else self.head_seq
        if until <= at:
            if self._overflowed:  # caught up with the journal: the queue can take over again
                self._overflowed = False
            return []
        return await asyncio.to_thread(self._read_journal, at, min(until, at + self.chunk))

    def _take_queued(self, at: int) -> list[CommandBatch]:
        taken: list[CommandBatch] = []
        count = 0
        while self._queue and count < self.chunk:
            batch = self._queue.popleft()
            self.queued -= len(batch)
            if batch.first_seq <= at:  # overlaps what is applied already
                batch = batch.slice(at + 1 - batch.first_seq, len(batch))
            taken.append(batch)
            count += len(batch)
            at = batch.last_seq
        return taken

    def _read_journal(self, at: int, until: int) -> list[CommandBatch]:
        if self._journal is None or self._journal_after != at:
            self._journal = journal.read(journal_dir(self.data_dir), after_seq=at)
        out: list[CommandBatch] = []
        for batch in self._journal:
            if batch.last_seq > until:
                out.append(batch.slice(0, until - batch.first_seq + 1))
                self._journal = None  # the rest of that batch is not durable-known yet
                break
            out.append(batch)
            if batch.last_seq == until:
                break
        else:
            self._journal = None
        read = sum(len(b) for b in out)
        self.from_journal += read
        self._journal_after = at + read
        return out
