"""Snapshot files: a checksummed image of the whole core at one sequence number.

``snapshot-<seq>.snap`` (20 digits) holds ``magic u32 | length u64 | crc32 u32 | msgpack
CoreImage``. It is written to a temporary name, fsynced, renamed into place and the
directory fsynced, so a crash leaves either the old set of snapshots or the new one, never
a half-written file under a real name. Loading takes the newest snapshot that verifies and
falls back to older ones, reporting any it had to skip.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from engine.core import Core, CoreImage

MAGIC = 0x31534747  # "GGS1"
HEADER = struct.Struct("<IQI")
PREFIX = "snapshot-"
SUFFIX = ".snap"

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(CoreImage)


class SnapshotCorruptError(RuntimeError):
    """A snapshot file does not verify; recovery falls back to an older one."""


def snapshot_paths(directory: Path) -> list[Path]:
    """Snapshot files, oldest first."""
    found = [
        p for p in directory.glob(PREFIX + "*" + SUFFIX)
        if p.name[len(PREFIX) : -len(SUFFIX)].isdigit()
    ]
    return sorted(found)


def seq_of(path: Path) -> int:
    return int(path.name[len(PREFIX) : -len(SUFFIX)])


def encode(image: CoreImage) -> bytes:
    body = _ENCODER.encode(image)
    return HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body


def decode(data: bytes) -> CoreImage:
    if len(data) < HEADER.size:
        raise SnapshotCorruptError("file shorter than its header")
    magic, length, crc = HEADER.unpack_from(data, 0)
    body = data[HEADER.size :]
    if magic != MAGIC or length != len(body) or zlib.crc32(body) != crc:
        raise SnapshotCorruptError("header, length or checksum does not verify")
    return _DECODER.decode(body)


def write(directory: Path, image: CoreImage, keep: int = 3) -> Path:
    """Durably write ``image`` as the newest snapshot; keep the ``keep`` newest."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{PREFIX}{image.last_seq:020d}{SUFFIX}"
    tmp = final.with_suffix(".tmp")
    data = encode(image)
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    for old in snapshot_paths(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return final


@dataclass
class LoadedSnapshot:
    core: Core | None
    path: Path | None
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def load_latest(directory: Path, book: str | None = None) -> LoadedSnapshot:
    """The newest snapshot that verifies, as a core (None when there is none)."""
    skipped: list[tuple[Path, str]] = []
    if directory.exists():
        for path in reversed(snapshot_paths(directory)):
            try:
                image = decode(path.read_bytes())
            except (SnapshotCorruptError, msgspec.DecodeError, msgspec.ValidationError) as exc:
                skipped.append((path, str(exc)))
                continue
            return LoadedSnapshot(Core.from_image(image, book=book), path, skipped)
    return LoadedSnapshot(None, None, skipped)
