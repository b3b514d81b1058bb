"""The command line: every command is listed, and the offline tools read a real data dir."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from engine.commands import Deposit, NewOrder
from engine.sequencer import CountingClock
from engine.types import Side
from gridworks import cli
from gridworks.config import NodeConfig
from gridworks.node import Node


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "instruments", "journal", "replay", "snapshot", "bench"):
        assert command in out


def test_console_script_is_installed() -> None:
    result = subprocess.run([sys.executable, "-m", "gridworks.cli", "instruments"],
                            capture_output=True, text=True, check=True)
    assert "NIFTY26DECFUT" in result.stdout


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    async def fill() -> None:
        node = Node(NodeConfig(data_dir=tmp_path, max_orders=1024, max_accounts=16,
                               demo_accounts=False),
                    clock=CountingClock())
        await node.start()
        await node.submit([Deposit(a, 100_000_000) for a in range(3)])
        for i in range(20):
            await node.submit([NewOrder(i % 3, 0, Side(i % 2), 2, price=141_230)])
        await node.stop(snapshot_now=False)

    asyncio.run(fill())
    return tmp_path


def test_journal_verify_replay_and_snapshot(data_dir: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["journal", "verify", "--data", str(data_dir)]) == 0
    # 30 bootstrap commands, 3 deposits, 20 orders and the mark after the first trade
    assert "seq 1..54" in capsys.readouterr().out
    assert cli.main(["replay", "--data", str(data_dir), "--check"]) == 0
    first = capsys.readouterr().out
    assert "audit OK" in first
    assert "ledger: clients 300000000 paise" in first
    assert cli.main(["snapshot", "--data", str(data_dir)]) == 0
    assert "at seq 54" in capsys.readouterr().out
    assert cli.main(["replay", "--data", str(data_dir), "--book", "reference"]) == 0
    second = capsys.readouterr().out
    assert "snapshot at seq 54" in second
    digest = [line for line in first.splitlines() if line.startswith("state hash")]
    assert digest
    assert digest[0] in second


def test_journal_verify_reports_corruption(data_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    segment = next((data_dir / "journal").glob("*.wal"))
    data = bytearray(segment.read_bytes())
    data[40] ^= 0xFF
    segment.write_bytes(bytes(data))
    assert cli.main(["journal", "verify", "--data", str(data_dir)]) == 1
    assert "CORRUPT" in capsys.readouterr().out
