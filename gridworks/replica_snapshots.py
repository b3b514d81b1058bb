"""A replica's snapshots: the core's image (the node's snapshot format, in the data
directory's ``snapshots/``) and beside it the log rule's state at the same point, so that a
replica that starts again reads the log on from there instead of from its beginning."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec

from engine import snapshot
from engine.commandlog import ApplierState, LogApplier
from engine.core import Core

STATE_SUFFIX = ".log.json"


def state_path(snapshot_path: Path) -> Path:
    return snapshot_path.with_name(snapshot_path.stem + STATE_SUFFIX)


def save(directory: Path, core: Core, applier: LogApplier, keep: int = 3) -> Path:
    """The snapshot first, then (atomically) the rule's state that makes it usable."""
    state = applier.state()
    if state.next_seq != core.last_seq + 1:
        raise ValueError("the applier and the core are at different places")
    path = snapshot.write(directory, core.image(), keep=keep)
    sidecar = state_path(path)
    tmp = sidecar.with_suffix(".tmp")
    tmp.write_bytes(msgspec.json.encode(state))
    os.replace(tmp, sidecar)
    kept = {state_path(p) for p in snapshot.snapshot_paths(directory)}
    for old in directory.glob("*" + STATE_SUFFIX):
        if old not in kept:
            old.unlink(missing_ok=True)
    return path


def load(directory: Path, book: str | None = None,
         order_id_base: int = 0) -> tuple[Core, LogApplier] | None:
    """The newest snapshot that verifies and has its rule state, or None."""
    if not directory.exists():
        return None
    for path in reversed(snapshot.snapshot_paths(directory)):
        try:
            state = msgspec.json.decode(state_path(path).read_bytes(), type=ApplierState)
            image = snapshot.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError,
                snapshot.SnapshotCorruptError):
            continue
        if state.next_seq != image.last_seq + 1:
            continue
        return Core.from_image(image, book=book), LogApplier.restored(state, order_id_base)
    return None
