"""Scenario ``replay``: rebuild the core from a journal of the standard stream.

The stream is journaled as a node would write it, one frame per group commit of 256
commands, then recovered from scratch (no snapshot): scan and verify every frame, decode
them, apply every command. Reported: the seconds for each step and in total, and the
state hash, which must equal that of a core that applied the stream directly. Goal:
replaying one million journaled operations takes at most one second.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from engine import journal
from engine.commands import AddInstrument, CommandBatch
from engine.core import Core, CoreConfig
from engine.recovery import journal_dir, recover, replay
from perf import stats
from perf.streams import BENCH_SPEC, CACHE, standard_stream

FRAME = 256
CONFIG = CoreConfig(max_orders=1 << 16, max_accounts=1_000, initial_levels=8192)


def write_journal(directory: Path, ops: int) -> tuple[int, str]:
    """Journal the standard stream; returns (commands, state hash of a direct run)."""
    rows = standard_stream(ops)
    writer = journal.JournalWriter(journal_dir(directory), 1, policy="os")
    core = Core(CONFIG)
    setup = CommandBatch.of([AddInstrument(BENCH_SPEC)])
    setup.rows[0, 1] = 1
    writer.append(setup)
    core.apply(setup)
    for start in range(0, len(rows), FRAME):
        batch = CommandBatch(rows[start : start + FRAME], [None] * len(rows[start : start + FRAME]))
        writer.append(batch)
        core.apply(batch, keep_events=False)
        if writer.pending >= 64:
            writer.flush()
    writer.close()
    return len(rows) + 1, core.state_hash()


def main(ops: int = 1_000_000, repeat: int = 3) -> dict[str, object]:
    CACHE.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="replay-", dir=CACHE))
    try:
        commands, expected = write_journal(directory, ops)
        size = sum(p.stat().st_size for p in journal.segment_paths(journal_dir(directory)))
        totals, scans, decodes = [], [], []
        for _ in range(repeat):
            with stats.quiet_gc():
                t0 = time.perf_counter()
                journal.scan(journal_dir(directory))
                t1 = time.perf_counter()
                batches = list(journal.read(journal_dir(directory)))
                t2 = time.perf_counter()
            scans.append(t1 - t0)
            decodes.append(t2 - t1)
            del batches
            with stats.quiet_gc():
                t0 = time.perf_counter()
                core, _ = recover(directory, CONFIG, use_snapshots=False, repair=False)
                totals.append(time.perf_counter() - t0)
            if core.state_hash() != expected:
                raise AssertionError("replay reached a different state than the live run")
        apply_only = Core(CONFIG)
        with stats.quiet_gc():
            t0 = time.perf_counter()
            replay(apply_only, journal.read(journal_dir(directory)))
            read_and_apply = time.perf_counter() - t0
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    total = stats.median(totals)
    return {
        "commands": commands,
        "frames_of": FRAME,
        "journal_bytes": size,
        "scan_s": round(stats.median(scans), 3),
        "decode_s": round(stats.median(decodes), 3),
        "read_and_apply_s": round(read_and_apply, 3),
        "recover_total_s": round(total, 3),
        "recover_runs_s": [round(t, 3) for t in totals],
        "commands_per_s": round(commands / total),
        "state_hash_matches_live_run": True,
        "goals": {"replay 1M ops <= 1 s": {"measured": round(total, 3), "met": total <= 1.0}},
    }
