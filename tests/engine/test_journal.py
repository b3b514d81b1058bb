"""The journal's frame format, group commit, torn tails and corruption handling."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from engine import journal
from engine.commands import CommandBatch, NewOrder
from engine.sequencer import CountingClock, Sequencer
from engine.types import Side
from tests.engine.flow import Flow


def batches(n: int, seed: int = 7, size: int = 5) -> list[CommandBatch]:
    flow = Flow(seed)
    sequencer = Sequencer(1, CountingClock())
    out = [sequencer.stamp(CommandBatch.of(flow.setup()))]
    for _ in range(n - 1):
        out.append(sequencer.stamp(CommandBatch.of(list(flow.commands(size,
                                                                        sequencer.next_seq)))))
    return out


def write(directory: Path, items: list[CommandBatch], **kwargs: object) -> None:
    writer = journal.JournalWriter(directory, items[0].first_seq, **kwargs)  # type: ignore[arg-type]
    for batch in items:
        writer.append(batch)
        writer.flush()
    writer.close()


def same(a: CommandBatch, b: CommandBatch) -> bool:
    return np.array_equal(a.rows, b.rows) and a.extras == b.extras


def test_round_trip_keeps_rows_and_extras(tmp_path: Path) -> None:
    items = batches(20)
    write(tmp_path, items)
    back = list(journal.read(tmp_path))
    assert len(back) == len(items)
    assert all(same(a, b) for a, b in zip(items, back, strict=True))
    scan = journal.scan(tmp_path)
    assert (scan.first_seq, scan.last_seq, scan.frames) == (1, items[-1].last_seq, 20)


def test_group_commit_writes_one_frame_per_batch_and_reads_from_any_seq(tmp_path: Path) -> None:
    items = batches(6)
    writer = journal.JournalWriter(tmp_path, 1)
    for batch in items:
        writer.append(batch)
    assert writer.pending == 6
    writer.flush()
    writer.close()
    middle = items[3].first_seq + 2
    back = list(journal.read(tmp_path, after_seq=middle - 1))
    assert int(back[0].rows[0, 1]) == middle
    assert sum(len(b) for b in back) == items[-1].last_seq - middle + 1


def test_out_of_sequence_append_is_refused(tmp_path: Path) -> None:
    items = batches(3)
    writer = journal.JournalWriter(tmp_path, 1)
    writer.append(items[0])
    with pytest.raises(journal.JournalCorruptError):
        writer.append(items[2])


@pytest.mark.parametrize("seed", range(6))
def test_a_cut_anywhere_in_the_last_frame_is_a_torn_tail(tmp_path: Path, seed: int) -> None:
    items = batches(8)
    write(tmp_path, items)
    path = journal.segment_paths(tmp_path)[0]
    size = path.stat().st_size
    last_frame = journal.scan(tmp_path).segments[0].frames[-1]
    cut = random.Random(seed).randrange(last_frame.offset + 1, size)
    with open(path, "r+b") as f:
        f.truncate(cut)
    scan = journal.scan(tmp_path)
    assert scan.torn_bytes == cut - last_frame.offset
    assert scan.last_seq == items[-2].last_seq
    assert journal.truncate_torn_tail(scan) == cut - last_frame.offset
    assert path.stat().st_size == last_frame.offset
    writer = journal.JournalWriter(tmp_path, items[-2].last_seq + 1)
    writer.append(items[-1])
    writer.close()
    assert all(same(a, b) for a, b in zip(items, journal.read(tmp_path), strict=True))


def test_zero_filled_tail_is_torn(tmp_path: Path) -> None:
    items = batches(4)
    write(tmp_path, items)
    path = journal.segment_paths(tmp_path)[0]
    with open(path, "ab") as f:
        f.write(b"\0" * 4096)
    scan = journal.scan(tmp_path)
    assert scan.torn_bytes == 4096
    assert scan.segments[0].torn_reason == "bad frame magic"
    assert scan.last_seq == items[-1].last_seq


def test_checksum_failure_in_the_last_frame_is_torn(tmp_path: Path) -> None:
    items = batches(4)
    write(tmp_path, items)
    path = journal.segment_paths(tmp_path)[0]
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))
    scan = journal.scan(tmp_path)
    assert scan.segments[0].torn_reason == "frame checksum mismatch"
    assert scan.last_seq == items[-2].last_seq


def test_damage_before_the_end_stops_recovery_with_a_clear_message(tmp_path: Path) -> None:
    items = batches(5)
    write(tmp_path, items)
    path = journal.segment_paths(tmp_path)[0]
    second = journal.scan(tmp_path).segments[0].frames[1]
    data = bytearray(path.read_bytes())
    data[second.offset + journal.HEADER.size + 10] ^= 0x01
    path.write_bytes(bytes(data))
    expected = rf"checksum mismatch at byte {second.offset}"
    with pytest.raises(journal.JournalCorruptError, match=expected):
        journal.scan(tmp_path)


def test_garbage_in_the_middle_is_not_mistaken_for_a_torn_tail(tmp_path: Path) -> None:
    items = batches(5)
    write(tmp_path, items)
    path = journal.segment_paths(tmp_path)[0]
    third = journal.scan(tmp_path).segments[0].frames[2]
    data = bytearray(path.read_bytes())
    data[third.offset : third.offset + 4] = b"\0\0\0\0"
    path.write_bytes(bytes(data))
    with pytest.raises(journal.JournalCorruptError, match="bad frame magic"):
        journal.scan(tmp_path)


def test_a_sequence_gap_between_frames_is_corruption(tmp_path: Path) -> None:
    items = batches(4)
    write(tmp_path, items[:2])
    segment = journal.segment_paths(tmp_path)[0]
    with open(segment, "ab") as f:
        f.write(journal.encode_frame(items[3]))
    with pytest.raises(journal.JournalCorruptError, match="sequence gap"):
        journal.scan(tmp_path)


def test_segments_roll_and_damage_in_an_old_segment_is_corruption(tmp_path: Path) -> None:
    items = batches(30, size=20)
    write(tmp_path, items, segment_bytes=8 * 1024)
    paths = journal.segment_paths(tmp_path)
    assert len(paths) > 2
    assert int(paths[1].stem) == journal.scan(tmp_path).segments[1].frames[0].first_seq
    assert all(same(a, b) for a, b in zip(items, journal.read(tmp_path), strict=True))
    with open(paths[0], "r+b") as f:
        f.truncate(paths[0].stat().st_size - 5)
    with pytest.raises(journal.JournalCorruptError):
        journal.scan(tmp_path)


def test_a_new_segment_starts_when_the_journal_ends_before_next_seq(tmp_path: Path) -> None:
    items = batches(3)
    write(tmp_path, items)
    later = items[-1].last_seq + 50
    writer = journal.JournalWriter(tmp_path, later, last_seq_on_disk=items[-1].last_seq)
    order = NewOrder(1, 0, Side.BUY, 1, price=10_000)
    batch = Sequencer(later, CountingClock()).stamp(CommandBatch.of([order]))
    writer.append(batch)
    writer.close()
    paths = journal.segment_paths(tmp_path)
    assert [int(p.stem) for p in paths] == [1, later]
    assert [int(b.rows[0, 1]) for b in journal.read(tmp_path, after_seq=later - 1)] == [later]
    assert journal.scan(tmp_path).last_seq == later
    with pytest.raises(journal.JournalCorruptError, match=f"resumes at seq {later}"):
        list(journal.read(tmp_path))
