"""Node configuration: defaults for the embedded node, overridable by flags and environment.

Every setting has an environment variable ``GRIDWORKS_<NAME>`` (for example
``GRIDWORKS_DATA_DIR=/var/lib/gridworks``); a command-line flag wins over the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

from engine.journal import FsyncPolicy


class NodeConfig(msgspec.Struct, frozen=True, kw_only=True):
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8080
    fsync: FsyncPolicy = "fsync"
    snapshot_every: int = 200_000  # commands between snapshots; 0 disables them
    snapshot_keep: int = 3
    book: Literal["fast", "reference"] = "fast"
    max_batch: int = 4_096  # commands per group commit at most
    open_market: bool = True  # on first start, open every instrument for continuous trading
    max_orders: int = 262_144
    max_accounts: int = 100_000


ENV_PREFIX = "GRIDWORKS_"


def from_environment(base: NodeConfig | None = None) -> NodeConfig:
    """``base`` with every field that has a ``GRIDWORKS_*`` variable replaced by it."""
    config = base or NodeConfig()
    updates: dict[str, object] = {}
    for field in msgspec.structs.fields(NodeConfig):
        raw = os.environ.get(ENV_PREFIX + field.name.upper())
        if raw is not None:
            updates[field.name] = raw
    if not updates:
        return config
    merged = msgspec.structs.asdict(config) | updates
    return msgspec.convert(merged, NodeConfig, strict=False)


def with_overrides(config: NodeConfig, **overrides: object) -> NodeConfig:
    """``config`` with the given fields replaced; ``None`` values are ignored."""
    given = {k: v for k, v in overrides.items() if v is not None}
    if not given:
        return config
    return msgspec.convert(msgspec.structs.asdict(config) | given, NodeConfig, strict=False)
