"""A journal of a replica's own: the batches the rule applied from a shard's log, in the same
format and numbering as a node's journal, so that what reads a node's journal — the
PostgreSQL projector, the event-topics publisher, `gridworks journal` — reads a shard's."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine import journal
from engine.commands import CommandBatch
from engine.recovery import journal_dir


class LocalJournal:
    def __init__(self, data_dir: Path) -> None:
        directory = journal_dir(data_dir)
        directory.mkdir(parents=True, exist_ok=True)
        scan = journal.scan(directory)
        journal.truncate_torn_tail(scan)
        self.last_seq = scan.last_seq  # what an earlier run wrote; the log numbers alike
        self.written = 0
        self._directory = directory
        self._writer: journal.JournalWriter | None = None

    def record(self, batch: CommandBatch, events: np.ndarray | None = None) -> None:
        """A replica recorder: the part of ``batch`` not written yet."""
        if batch.last_seq <= self.last_seq:
            return
        if batch.first_seq <= self.last_seq:
            batch = batch.slice(self.last_seq + 1 - batch.first_seq, len(batch))
        if self._writer is None:  # a new segment where this run's batches begin
            self._writer = journal.JournalWriter(self._directory, batch.first_seq,
                                                 policy="os", last_seq_on_disk=self.last_seq)
        self._writer.append(batch)
        self._writer.flush()
        self.last_seq = batch.last_seq
        self.written += len(batch)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
