"""Recovery: the newest good snapshot plus the journal after it gives the core back.

A data directory holds ``journal/`` and ``snapshots/``. Recovery scans the journal first
(strictly: a torn tail is reported and cut, anything worse raises `JournalCorruptError`), loads
the newest verifying snapshot, and replays every journaled command after it, coalescing
frames into large batches so that replay runs at kernel speed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine import journal, snapshot
from engine.commands import CommandBatch
from engine.core import Core, CoreConfig

REPLAY_BATCH = 65_536


@dataclass
class RecoveryReport:
    snapshot_seq: int = 0
    replayed: int = 0
    last_seq: int = 0
    journal_last_seq: int = 0
    torn_bytes: int = 0
    torn_reason: str = ""
    skipped_snapshots: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [
            f"snapshot at seq {self.snapshot_seq}" if self.snapshot_seq else "no snapshot",
            f"replayed {self.replayed} commands to seq {self.last_seq} "
            f"in {self.seconds:.3f} s",
        ]
        if self.journal_last_seq < self.last_seq:
            out.append(f"the journal ends at seq {self.journal_last_seq}, before the snapshot; "
                       f"a new segment starts at {self.last_seq + 1}")
        if self.torn_bytes:
            out.append(f"cut a torn journal tail of {self.torn_bytes} bytes "
                       f"({self.torn_reason})")
        out.extend(f"skipped unreadable snapshot {s}" for s in self.skipped_snapshots)
        return out


def journal_dir(data_dir: Path) -> Path:
    return data_dir / "journal"


def snapshot_dir(data_dir: Path) -> Path:
    return data_dir / "snapshots"


def recover(
    data_dir: Path,
    config: CoreConfig | None = None,
    use_snapshots: bool = True,
    repair: bool = True,
) -> tuple[Core, RecoveryReport]:
    started = time.perf_counter()
    report = RecoveryReport()
    jdir = journal_dir(data_dir)
    scan = journal.scan(jdir) if jdir.exists() else journal.JournalScan([])
    report.journal_last_seq = scan.last_seq
    if scan.torn_bytes:
        report.torn_reason = scan.segments[-1].torn_reason
        report.torn_bytes = journal.truncate_torn_tail(scan) if repair else scan.torn_bytes
    core: Core | None = None
    if use_snapshots:
        loaded = snapshot.load_latest(snapshot_dir(data_dir),
                                      book=config.book if config else None)
        report.skipped_snapshots = [f"{p.name}: {why}" for p, why in loaded.skipped]
        core = loaded.core
    if core is None:
        core = Core(config)
    report.snapshot_seq = core.last_seq
    if jdir.exists():
        report.replayed = replay(core, journal.read(jdir, after_seq=core.last_seq))
    report.last_seq = core.last_seq
    report.seconds = time.perf_counter() - started
    return core, report


def replay(core: Core, batches: object) -> int:
    """Apply journaled batches to ``core`` in large coalesced batches; commands applied."""
    total = 0
    rows: list[np.ndarray] = []
    extras: list = []
    pending = 0
    for batch in batches:  # type: ignore[attr-defined]
        rows.append(batch.rows)
        extras.extend(batch.extras)
        pending += len(batch)
        if pending >= REPLAY_BATCH:
            core.apply(CommandBatch(np.concatenate(rows), extras), keep_events=False)
            total += pending
            rows, extras, pending = [], [], 0
    if pending:
        core.apply(CommandBatch(np.concatenate(rows), extras), keep_events=False)
        total += pending
    return total
