"""A cluster shard's command log, as a deterministic rule over its entries.

In cluster mode a shard's input is one partition of a replicated log (Kafka). Every replica
of the shard — the primary, its hot standbys, every gateway — reads the same entries in the
same order and decides with the same rule which of them the core applies, so all of them
hold the same state at the same offset. Only the leader appends commands; what makes that
safe is not the lease that elects it but this rule:

* A leader's first entry is a *fence* carrying its epoch, a number that only grows (the
  election hands out a new one to every winner).
* Command entries carry their writer's epoch. An entry older than the newest fence before it
  is skipped: a deposed leader that still writes (a long pause, a lease it lost without
  noticing) changes nothing, whatever it appends.
* Commands are numbered when they are applied, not when they are written, so skipped entries
  leave no gap, and stamped with their entry's time (never earlier than the entry before).

A leader acknowledges nothing until it has read its own entry back through this rule, so an
acknowledged command is both replicated by the log and applied by every replica; a new
leader reads up to its own fence before it writes, so it starts from everything its
predecessor may have acknowledged.

Entries say which gateway requests they carry (`RequestRef`) and how far into the requests
partition they reach, so a new leader goes on exactly where the applied log ends: each
request is applied once, however often leaders change. A requester numbers its requests
upwards, and a request whose number its requester has already had applied is left out, so
sending a request again (when its fate is unknown) is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import msgspec
import numpy as np

from engine.commands import CommandBatch
from engine.sequencer import Sequencer


class EntryKind(IntEnum):
    COMMANDS = 0
    FENCE = 1


class RequestRef(msgspec.Struct, array_like=True, frozen=True):
    """``count`` commands of an entry that came from request ``number`` of ``gateway``."""

    gateway: str
    number: int
    count: int


class EntryMeta(msgspec.Struct, array_like=True, frozen=True):
    """What travels beside an entry's commands (in a header of the log record)."""

    kind: int
    epoch: int
    ts: int  # the writer's clock, ns
    writer: str = ""
    refs: tuple[RequestRef, ...] = ()  # in the order of the entry's commands
    requests_hi: int = -1  # the last requests-partition offset taken into this entry


@dataclass(frozen=True)
class LogEntry:
    offset: int
    meta: EntryMeta
    batch: CommandBatch | None  # None for a fence


@dataclass(frozen=True)
class Admitted:
    """An entry the rule applies: its commands, numbered and stamped, and the requests they
    came from (a request already applied once is left out, with its commands)."""

    entry: LogEntry
    batch: CommandBatch
    refs: tuple[RequestRef, ...]


class ApplierState(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Everything the rule knows besides the core: kept beside a replica's snapshot."""

    next_offset: int
    next_seq: int
    epoch: int
    leader: str
    requests_hi: int
    last_ts: int
    skipped: int
    repeats: int
    last_request: dict[str, int]


class LogOrderError(ValueError):
    """Entries must be given in offset order, each once."""


class LogApplier:
    """The rule above, over entries given in offset order; everything it decides is a
    function of the entries alone."""

    def __init__(self, next_seq: int = 1, order_id_base: int = 0) -> None:
        self.epoch = 0  # the newest fence's
        self.leader = ""  # who wrote it
        self.next_offset = 0
        self.requests_hi = -1  # the last requests offset that applied entries took in
        self.skipped = 0  # command entries of deposed leaders
        self.repeats = 0  # requests left out because an earlier entry applied them
        self.last_request: dict[str, int] = {}  # requester -> the last number applied
        self.last_ts = 0
        self._sequencer = Sequencer(next_seq, clock=lambda: 0, order_id_base=order_id_base)

    @property
    def next_seq(self) -> int:
        return self._sequencer.next_seq

    def state(self) -> ApplierState:
        return ApplierState(self.next_offset, self.next_seq, self.epoch, self.leader,
                            self.requests_hi, self.last_ts, self.skipped, self.repeats,
                            dict(self.last_request))

    @classmethod
    def restored(cls, state: ApplierState, order_id_base: int = 0) -> LogApplier:
        applier = cls(state.next_seq, order_id_base)
        applier.next_offset, applier.epoch, applier.leader = (
            state.next_offset, state.epoch, state.leader)
        applier.requests_hi, applier.last_ts = state.requests_hi, state.last_ts
        applier.skipped, applier.repeats = state.skipped, state.repeats
        applier.last_request = dict(state.last_request)
        return applier

    def admit(self, entry: LogEntry) -> Admitted | None:
        """The entry's commands if the core applies them; None for a fence or a skip."""
        if entry.offset < self.next_offset:
            raise LogOrderError(f"entry {entry.offset} comes after {self.next_offset - 1}")
        self.next_offset = entry.offset + 1
        meta = entry.meta
        if meta.kind == EntryKind.FENCE:
            if meta.epoch > self.epoch:
                self.epoch, self.leader = meta.epoch, meta.writer
            return None
        if meta.epoch < self.epoch:
            self.skipped += 1
            return None
        if meta.epoch > self.epoch:  # a leader whose fence this replica has not seen
            self.epoch, self.leader = meta.epoch, meta.writer
        self.last_ts = max(self.last_ts, meta.ts)
        self.requests_hi = max(self.requests_hi, meta.requests_hi)
        if entry.batch is None or not len(entry.batch):  # only unreadable requests in it
            return None
        batch, refs = self._first_times(entry.batch, meta.refs)
        if not len(batch):
            return None
        return Admitted(entry, self._sequencer.stamp(batch, at=self.last_ts), refs)

    def _first_times(self, batch: CommandBatch, refs: tuple[RequestRef, ...],
                     ) -> tuple[CommandBatch, tuple[RequestRef, ...]]:
        """The entry without the requests applied before. A requester numbers its requests
        upwards, so one that is sent again (a retry whose first attempt was in fact
        delivered, a step of a transfer resumed after a restart) is recognised by its
        number, and applied once."""
        kept: list[RequestRef] = []
        dropped: list[tuple[int, int]] = []  # row ranges
        row = 0
        for ref in refs:
            if ref.number > self.last_request.get(ref.gateway, 0):
                self.last_request[ref.gateway] = ref.number
                kept.append(ref)
            else:
                dropped.append((row, row + ref.count))
                self.repeats += 1
            row += ref.count
        if not dropped:
            return batch, refs
        keep = np.ones(len(batch), dtype=bool)
        for start, stop in dropped:
            keep[start:stop] = False
        rows = np.flatnonzero(keep).tolist()
        return CommandBatch(batch.rows[keep], [batch.extras[i] for i in rows]), tuple(kept)


def request_bounds(admitted: Admitted) -> list[tuple[RequestRef, int, int]]:
    """Each request of an applied entry with the sequence numbers of its commands
    (first, last)."""
    seq = admitted.batch.first_seq
    out = []
    for ref in admitted.refs:
        out.append((ref, seq, seq + ref.count - 1))
        seq += ref.count
    return out


def concat(batches: list[CommandBatch]) -> CommandBatch:
    """Several unstamped batches as one, in order."""
    if len(batches) == 1:
        return batches[0]
    rows = np.concatenate([b.rows for b in batches])
    return CommandBatch(rows, [e for b in batches for e in b.extras])
