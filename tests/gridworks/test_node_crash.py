"""Durable before acknowledged: SIGKILL a loaded node, recover, find every acked order.

The driver process prints an ACK line only after the node returned the submission, which
happens only after the group commit's fdatasync. Whatever instant the kill lands on
(during a write, an fsync or a snapshot), recovery must contain every acked order under
the sequence number it was acked with, and a full replay of the journal must reach the
same state as snapshot + journal tail.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.core import CoreConfig
from engine.recovery import recover

ROOT = Path(__file__).resolve().parents[2]


def run_and_kill(data_dir: Path, acks_before_kill: int) -> list[tuple[int, int, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.gridworks.crash_driver", str(data_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    acks: list[tuple[int, int, str]] = []
    deadline = time.monotonic() + 240
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("ACK "):
                _, seq, account, client_id = line.split()
                acks.append((int(seq), int(account), client_id))
                if len(acks) >= acks_before_kill:
                    break
            assert time.monotonic() < deadline, "the driver made no progress"
        else:
            raise AssertionError("driver exited: " + (proc.stderr.read() if proc.stderr else ""))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    return acks


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_acknowledged_order_survives_sigkill(tmp_path: Path, seed: int) -> None:
    target = random.Random(seed).randrange(200, 1500)
    acks = run_and_kill(tmp_path / "data", target)
    assert len(acks) >= target
    config = CoreConfig(max_orders=20_000, max_accounts=16)
    core, report = recover(tmp_path / "data", config)
    assert core.last_seq >= max(seq for seq, _, _ in acks)
    for seq, account, client_id in acks:
        assert core.order_id_for(account, client_id) == seq, f"acked order {client_id} lost"
    replayed, _ = recover(tmp_path / "data", config, use_snapshots=False)
    assert replayed.state_hash() == core.state_hash()
    assert report.last_seq == core.last_seq
