"""A second copy of the core, rebuilt from a node's data directory and advanced batch by
batch, so that consumers downstream of the core (the PostgreSQL projector) see exactly the
events and the state the node saw at every sequence number, without touching the node.

The core is deterministic: the same journaled commands from the same snapshot give the same
events byte for byte. So a consumer that fell behind, crashed or restarted rebuilds its core
at the last sequence number it finished (the newest snapshot at or below it, then the
journal) and carries on, whether the next batches come from the running node or from the
journal files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import numpy as np

from engine import journal, snapshot
from engine.commands import CommandBatch
from engine.core import Core, CoreConfig
from engine.recovery import journal_dir, replay, snapshot_dir


def core_at(data_dir: Path, seq: int, config: CoreConfig,
            replayed: Callable[[np.ndarray], None] | None = None) -> Core:
    """The core as it stood after command ``seq``. With ``replayed``, the commands between
    the snapshot and ``seq`` are applied batch by batch and their events handed to it (a
    consumer warming state that snapshots do not hold)."""
    core = _snapshot_at_or_before(data_dir, seq, config) or Core(config)
    if core.last_seq < seq:
        batches = read_range(data_dir, core.last_seq, seq)
        if replayed is None:
            replay(core, batches)
        else:
            for batch in batches:
                replayed(core.apply(batch))
    if core.last_seq != seq:
        raise journal.JournalCorruptError(
            f"the journal ends at seq {core.last_seq}; seq {seq} was asked for")
    return core


def read_range(data_dir: Path, after: int, until: int) -> Iterator[CommandBatch]:
    """Journaled batches holding the commands ``after + 1`` .. ``until``, cut to that range."""
    directory = journal_dir(data_dir)
    if until <= after or not directory.exists():
        return
    for batch in journal.read(directory, after_seq=after):
        if batch.first_seq > until:
            return
        if batch.last_seq > until:
            yield batch.slice(0, until - batch.first_seq + 1)
            return
        yield batch


def advance(core: Core, batch: CommandBatch) -> np.ndarray:
    """Apply the next batch; its events. Batches must continue the core's sequence."""
    if batch.first_seq != core.last_seq + 1:
        raise ValueError(f"batch starts at seq {batch.first_seq}, the core is at {core.last_seq}")
    return core.apply(batch)


def _snapshot_at_or_before(data_dir: Path, seq: int, config: CoreConfig) -> Core | None:
    directory = snapshot_dir(data_dir)
    if not directory.exists():
        return None
    for path in reversed(snapshot.snapshot_paths(directory)):
        if snapshot.seq_of(path) > seq:
            continue
        try:
            image = snapshot.decode(path.read_bytes())
        except (snapshot.SnapshotCorruptError, msgspec.DecodeError, msgspec.ValidationError):
            continue
        return Core.from_image(image, book=config.book)
    return None
