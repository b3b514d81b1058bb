"""Replay and crash recovery: the journal rebuilds the same core, event for event.

A recorded run journals a long random flow batch by batch (with snapshots along the way)
and remembers the state hash after every batch. Recovery from the directory, from the
journal alone, or onto the other book implementation must reach the same hash; replaying
the journal must emit the very same event rows; and a journal cut at any byte recovers to
exactly the state after the last complete frame.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np
import pytest

from engine import journal, snapshot
from engine.commands import CommandBatch
from engine.core import Core, CoreConfig
from engine.recovery import journal_dir, recover, snapshot_dir
from engine.sequencer import CountingClock, Sequencer
from tests.engine.flow import Flow

CONFIG = CoreConfig(max_orders=500, max_accounts=8, initial_levels=2048)


@dataclass
class Recorded:
    directory: Path
    hashes: dict[int, str]  # last seq of each batch -> state hash after it
    events: np.ndarray
    frame_ends: list[int]  # byte offset where each frame ends, in the single segment


def record(directory: Path, batches: int = 120, snapshot_every: int = 0) -> Recorded:
    core = Core(CONFIG)
    flow = Flow(11)
    sequencer = Sequencer(1, CountingClock())
    writer = journal.JournalWriter(journal_dir(directory), 1, policy="os")
    sizes = random.Random(5)
    hashes: dict[int, str] = {}
    events: list[np.ndarray] = []
    last_snapshot = 0
    for i in range(batches + 1):
        commands = flow.setup() if i == 0 else list(
            flow.commands(sizes.choice([1, 3, 8, 40]), sequencer.next_seq))
        batch = sequencer.stamp(CommandBatch.of(commands))
        writer.append(batch)
        writer.flush()
        events.append(core.apply(batch))
        hashes[core.last_seq] = core.state_hash()
        if snapshot_every and core.last_seq - last_snapshot >= snapshot_every:
            snapshot.write(snapshot_dir(directory), core.image())
            last_snapshot = core.last_seq
    writer.close()
    frames = journal.scan(journal_dir(directory)).segments[0].frames
    return Recorded(directory, hashes, np.concatenate(events),
                    [f.offset + f.size for f in frames])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    return record(tmp_path_factory.mktemp("recorded"), snapshot_every=150)


def test_recovery_from_snapshot_and_journal_reaches_the_final_state(recorded: Recorded) -> None:
    core, report = recover(recorded.directory, CONFIG, repair=False)
    final_seq = max(recorded.hashes)
    assert report.snapshot_seq > 0
    assert report.replayed == final_seq - report.snapshot_seq
    assert core.last_seq == final_seq
    assert core.state_hash() == recorded.hashes[final_seq]


@pytest.mark.parametrize("book", ["fast", "reference"])
def test_full_replay_on_either_book_reaches_the_same_hash(recorded: Recorded, book: str) -> None:
    config = CoreConfig(max_orders=500, max_accounts=8, initial_levels=2048, book=book)
    core, report = recover(recorded.directory, config, use_snapshots=False, repair=False)
    assert report.snapshot_seq == 0
    assert core.state_hash() == recorded.hashes[max(recorded.hashes)]


def test_replay_emits_exactly_the_original_events(recorded: Recorded) -> None:
    core = Core(CONFIG)
    replayed = [core.apply(batch) for batch in journal.read(journal_dir(recorded.directory))]
    assert np.array_equal(np.concatenate(replayed), recorded.events)


def test_a_snapshot_restores_the_exact_state_it_was_taken_from(recorded: Recorded) -> None:
    for path in snapshot.snapshot_paths(snapshot_dir(recorded.directory)):
        image = snapshot.decode(path.read_bytes())
        for book in ("fast", "reference"):
            core = Core.from_image(image, book=book)
            assert core.state_hash() == recorded.hashes[image.last_seq]


def test_a_corrupt_newest_snapshot_falls_back_to_an_older_one(
    recorded: Recorded, tmp_path: Path
) -> None:
    copy = tmp_path / "data"
    shutil.copytree(recorded.directory, copy)
    newest = snapshot.snapshot_paths(snapshot_dir(copy))[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    newest.write_bytes(bytes(data))
    core, report = recover(copy, CONFIG)
    assert len(report.skipped_snapshots) == 1
    assert newest.name in report.skipped_snapshots[0]
    assert report.snapshot_seq < snapshot.seq_of(newest)
    assert core.state_hash() == recorded.hashes[max(recorded.hashes)]


def test_cutting_the_journal_at_random_offsets_recovers_the_last_complete_frame(
    tmp_path: Path,
) -> None:
    source = record(tmp_path / "source")
    segment = journal.segment_paths(journal_dir(source.directory))[0]
    size = segment.stat().st_size
    rnd = random.Random(2024)
    cuts = sorted({rnd.randrange(1, size) for _ in range(25)} | set(source.frame_ends[:3]))
    seqs = sorted(source.hashes)
    for cut in cuts:
        trial = tmp_path / f"cut-{cut}"
        shutil.copytree(source.directory, trial)
        with open(journal.segment_paths(journal_dir(trial))[0], "r+b") as f:
            f.truncate(cut)
        complete = sum(1 for end in source.frame_ends if end <= cut)
        core, report = recover(trial, CONFIG)
        if complete == 0:
            assert core.last_seq == 0
            continue
        expected_seq = seqs[complete - 1]
        assert core.last_seq == expected_seq, f"cut at byte {cut}"
        assert core.state_hash() == source.hashes[expected_seq], f"cut at byte {cut}"
        assert report.torn_bytes == cut - source.frame_ends[complete - 1]
        assert journal.segment_paths(journal_dir(trial))[0].stat().st_size == (
            source.frame_ends[complete - 1])
        shutil.rmtree(trial)


def test_an_image_of_the_previous_version_still_loads_with_its_client_order_ids(
        recorded: Recorded) -> None:
    # Version 4 kept the client order ids as (account, id, order id) triples.
    path = snapshot.snapshot_paths(snapshot_dir(recorded.directory))[-1]
    image = snapshot.decode(path.read_bytes())
    assert image.client_keys  # the recorded flow used client order ids
    triples = [(a, c, o) for (a, c), o in zip(image.client_keys, image.client_order_ids,
                                              strict=True)]
    old = msgspec.structs.replace(image, version=4, client_keys=[], client_order_ids=[],
                                  client_ids=triples)
    again = snapshot.decode(snapshot.encode(old))
    assert Core.from_image(again).state_hash() == recorded.hashes[image.last_seq]
    assert Core.from_image(again).client_ids == Core.from_image(image).client_ids
