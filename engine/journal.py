"""The journal: an append-only log of sequenced command batches, one checksummed frame each.

Layout: a directory of segment files ``<first-seq>.wal`` (20 digits). A frame is::

    magic u32 | payload length u32 | crc32 u32 | count u32 | first seq u64 | payload

all little-endian; the CRC covers ``count``, ``first seq`` and the payload; the payload is
``count`` command rows (int64) followed by the msgpack list of their extras. One frame is
one group-commit batch: it is written with one ``write`` and, under the ``fsync`` policy,
made durable with one ``fdatasync`` before any of its commands is acknowledged.

Reading is strict. The only damage recovery accepts is a torn tail: a frame cut short, or
zero-filled or checksum-failing bytes that run to the end of the last segment, which is
what a crash during an append leaves. It is reported and truncated. A bad frame with valid
data after it, a sequence gap, or damage in an older segment stops recovery with
`JournalCorruptError`, because silently skipping a command would fork the state.

Measured cost of the policies on this project's machines is in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from engine.commands import CommandBatch, decode_extras, encode_extras
from engine.layout import CMD_WIDTH

MAGIC = 0x314A5747  # "GWJ1"
HEADER = struct.Struct("<IIIIQ")
ROW_BYTES = CMD_WIDTH * 8
SEGMENT_SUFFIX = ".wal"
DEFAULT_SEGMENT_BYTES = 256 * 1024 * 1024

FsyncPolicy = Literal["fsync", "os"]


class JournalCorruptError(RuntimeError):
    """The journal is damaged somewhere other than a torn tail; recovery must stop."""


@dataclass(frozen=True)
class Frame:
    offset: int
    first_seq: int
    count: int
    size: int


@dataclass
class SegmentScan:
    path: Path
    frames: list[Frame] = field(default_factory=list)
    valid_bytes: int = 0
    torn_bytes: int = 0  # bytes after the last good frame (only allowed in the last segment)
    torn_reason: str = ""


@dataclass
class JournalScan:
    segments: list[SegmentScan]

    @property
    def first_seq(self) -> int:
        for seg in self.segments:
            if seg.frames:
                return seg.frames[0].first_seq
        return 0

    @property
    def last_seq(self) -> int:
        for seg in reversed(self.segments):
            if seg.frames:
                last = seg.frames[-1]
                return last.first_seq + last.count - 1
        return 0

    @property
    def frames(self) -> int:
        return sum(len(seg.frames) for seg in self.segments)

    @property
    def torn_bytes(self) -> int:
        return self.segments[-1].torn_bytes if self.segments else 0


_NATIVE_IS_LITTLE = np.dtype(np.int64) == np.dtype("<i8")  # frames hold little-endian rows


def encode_frame(batch: CommandBatch) -> bytes:
    rows = batch.rows if _NATIVE_IS_LITTLE else batch.rows.astype("<i8")
    payload = rows.tobytes() + encode_extras(batch.extras)
    count = rows.shape[0]
    first_seq = batch.first_seq
    tail = struct.pack("<IQ", count, first_seq)
    crc = zlib.crc32(payload, zlib.crc32(tail))
    return HEADER.pack(MAGIC, len(payload), crc, count, first_seq) + payload


def decode_payload(payload: memoryview, count: int) -> CommandBatch:
    rows_end = count * ROW_BYTES
    rows = np.frombuffer(payload[:rows_end], dtype="<i8").reshape(count, CMD_WIDTH)
    extras = decode_extras(bytes(payload[rows_end:]))
    if len(extras) != count:
        raise JournalCorruptError(f"frame carries {len(extras)} extras for {count} commands")
    return CommandBatch(rows.astype(np.int64, copy=False), extras)


def decode_frame(data: bytes) -> CommandBatch:
    """One whole frame (as `encode_frame` made it) back into a writable batch; a frame that
    is cut, padded or fails its checksum raises `JournalCorruptError`."""
    problem = _frame_problem(data, 0, 0)
    if problem is not None:
        raise JournalCorruptError(problem[0])
    _, length, _, count, _ = HEADER.unpack_from(data, 0)
    if HEADER.size + length != len(data):
        raise JournalCorruptError("bytes after the frame")
    batch = decode_payload(memoryview(data)[HEADER.size:], count)
    return CommandBatch(batch.rows.copy(), batch.extras)


def segment_paths(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*" + SEGMENT_SUFFIX) if p.stem.isdigit())


def _scan_segment(path: Path, expected_seq: int, is_last: bool) -> SegmentScan:
    data = path.read_bytes()
    scan = SegmentScan(path)
    pos = 0
    end = len(data)
    while pos < end:
        problem = _frame_problem(data, pos, expected_seq)
        if problem is None:
            _, length, _, count, first_seq = HEADER.unpack_from(data, pos)
            size = HEADER.size + length
            scan.frames.append(Frame(pos, first_seq, count, size))
            expected_seq = first_seq + count
            pos += size
            continue
        reason, torn = problem
        if torn and is_last:
            scan.torn_bytes = end - pos
            scan.torn_reason = reason
            break
        raise JournalCorruptError(
            f"{path.name}: {reason} at byte {pos} (expected seq {expected_seq}); "
            "the journal is damaged before its end and cannot be replayed past this point"
        )
    scan.valid_bytes = pos
    return scan


def _frame_problem(data: bytes, pos: int, expected_seq: int) -> tuple[str, bool] | None:
    """None for a good frame at ``pos``; else (reason, whether it is a torn tail)."""
    end = len(data)
    if end - pos < HEADER.size:
        return "incomplete frame header", True
    magic, length, crc, count, first_seq = HEADER.unpack_from(data, pos)
    if magic != MAGIC:
        return "bad frame magic", not any(data[pos:])
    frame_end = pos + HEADER.size + length
    if frame_end > end:
        return "frame runs past the end of the file", True
    payload = memoryview(data)[pos + HEADER.size : frame_end]
    if zlib.crc32(payload, zlib.crc32(data[pos + 8 + 4 : pos + HEADER.size])) != crc:
        return "frame checksum mismatch", frame_end == end
    if length < count * ROW_BYTES or count == 0:
        return "frame length does not match its command count", False
    if expected_seq and first_seq != expected_seq:
        return f"sequence gap: frame starts at {first_seq}", False
    return None


def scan(directory: Path) -> JournalScan:
    """Validate every frame of every segment without applying anything.

    Inside a segment the sequence must be gapless from the number in its name. Between
    segments a gap is allowed: a segment starts fresh after a snapshot that the journal
    fell behind; `read` refuses the gap if a replay ever needs the missing commands.
    """
    paths = segment_paths(directory)
    return JournalScan([
        _scan_segment(path, int(path.stem), is_last=i == len(paths) - 1)
        for i, path in enumerate(paths)
    ])


def truncate_torn_tail(journal: JournalScan, durable: bool = True) -> int:
    """Cut a torn tail off the last segment; the number of bytes removed."""
    if not journal.segments or journal.torn_bytes == 0:
        return 0
    last = journal.segments[-1]
    with open(last.path, "r+b") as f:
        f.truncate(last.valid_bytes)
        if durable:
            os.fsync(f.fileno())
    removed = last.torn_bytes
    last.torn_bytes = 0
    return removed


def read(directory: Path, after_seq: int = 0) -> Iterator[CommandBatch]:
    """Every journaled batch holding commands after ``after_seq``, in order.

    Run `scan` (and `truncate_torn_tail`) first; this trusts the frames it is given but
    still refuses a gap between ``after_seq`` and the first command it yields.
    """
    expected = after_seq + 1
    for path in segment_paths(directory):
        data = path.read_bytes()
        view = memoryview(data)
        pos = 0
        while pos + HEADER.size <= len(data):
            magic, length, _, count, first_seq = HEADER.unpack_from(data, pos)
            if magic != MAGIC:
                break
            size = HEADER.size + length
            if pos + size > len(data):
                break
            last_seq = first_seq + count - 1
            if last_seq >= expected:
                if first_seq > expected:
                    raise JournalCorruptError(
                        f"journal resumes at seq {first_seq} but seq {expected} is needed"
                    )
                batch = decode_payload(view[pos + HEADER.size : pos + size], count)
                skip = expected - first_seq
                if skip:
                    batch = batch.slice(skip, count)
                yield batch
                expected = last_seq + 1
            pos += size


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """Appends frames to the newest segment; `flush` is the group commit."""

    def __init__(
        self,
        directory: Path,
        next_seq: int,
        policy: FsyncPolicy = "fsync",
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        last_seq_on_disk: int | None = None,
    ) -> None:
        """Append after the newest segment, or start a new segment at ``next_seq`` when
        the journal on disk (ending at ``last_seq_on_disk``) does not lead up to it."""
        self.directory = directory
        self.policy = policy
        self.segment_bytes = segment_bytes
        self.next_seq = next_seq
        self._pending: list[bytes] = []
        directory.mkdir(parents=True, exist_ok=True)
        paths = segment_paths(directory)
        self._fd = -1
        self._size = 0
        continues = last_seq_on_disk is None or last_seq_on_disk + 1 == next_seq
        if paths and continues:
            self._open(paths[-1])
        else:
            self._open(self._segment_path(next_seq))

    def _segment_path(self, first_seq: int) -> Path:
        return self.directory / f"{first_seq:020d}{SEGMENT_SUFFIX}"

    def _open(self, path: Path) -> None:
        created = not path.exists()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        if created and self.policy == "fsync":
            _fsync_directory(self.directory)

    def append(self, batch: CommandBatch) -> None:
        """Queue one batch as one frame; nothing is durable until `flush` returns."""
        if batch.first_seq != self.next_seq:
            raise JournalCorruptError(
                f"journal expects seq {self.next_seq}, batch starts at {batch.first_seq}"
            )
        self._pending.append(encode_frame(batch))
        self.next_seq = batch.last_seq + 1

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self) -> None:
        """Write every queued frame with one write and, by policy, one fdatasync."""
        if not self._pending:
            return
        if self._size >= self.segment_bytes:
            self._roll()
        data = b"".join(self._pending)
        self._pending.clear()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(data)
        if self.policy == "fsync":
            os.fdatasync(self._fd)

    def _roll(self) -> None:
        os.fsync(self._fd)
        os.close(self._fd)
        first = self.next_seq - sum(
            HEADER.unpack_from(frame, 0)[3] for frame in self._pending
        )
        self._open(self._segment_path(first))

    def abandon(self) -> None:
        """Close without writing what is still queued (after a failed write)."""
        self._pending.clear()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def close(self) -> None:
        if self._fd >= 0:
            self.flush()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1
