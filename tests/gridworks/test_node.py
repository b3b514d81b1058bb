"""The node in-process: bootstrap, group commit, durable results, restart, locking, faults."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from engine import events as ev
from engine import snapshot
from engine.commands import Deposit, InvalidCommandError, NewOrder, SetLimits
from engine.core import Core
from engine.recovery import snapshot_dir
from engine.sequencer import CountingClock
from engine.types import Phase, Side
from gridworks.config import NodeConfig
from gridworks.datadir import DataDirLockedError
from gridworks.node import Node, NodeStoppedError


def config(data: Path, **kw: object) -> NodeConfig:
    return NodeConfig(data_dir=data, max_orders=4096, max_accounts=64,  # type: ignore[arg-type]
                      demo_accounts=False, **kw)


async def started(data: Path, **kw: object) -> Node:
    node = Node(config(data, **kw), clock=CountingClock())
    await node.start()
    return node


async def funded(node: Node, accounts: range) -> None:
    """Money and no rate limit for the accounts (the test clock is far faster than life)."""
    await node.submit([c for a in accounts
                       for c in (Deposit(a, 10_000_000_000), SetLimits(a, rate_per_s=0))])


async def test_first_start_lists_and_opens_the_demo_instruments(tmp_path: Path) -> None:
    node = await started(tmp_path)
    try:
        status = node.status()
        symbols = [i["symbol"] for i in status["instruments"]]
        assert "RELIANCE" in symbols
        assert "NIFTY26DECFUT" in symbols
        assert {i["phase"] for i in status["instruments"]} == {Phase.CONTINUOUS.name}
    finally:
        await node.stop()


async def test_results_carry_only_the_submitters_events(tmp_path: Path) -> None:
    node = await started(tmp_path)
    await funded(node, range(1, 3))
    try:
        sell = NewOrder(1, 0, Side.SELL, 10, price=141_300, client_order_id="s")
        buy = NewOrder(2, 0, Side.BUY, 4, price=141_300, client_order_id="b")
        first, second = await asyncio.gather(node.submit([sell]), node.submit([buy]))
        assert first.first_seq == first.last_seq
        assert second.first_seq == first.last_seq + 1
        kinds = [type(e).__name__ for e in ev.decode(second.events)]
        assert kinds == ["Accepted", "Traded", "BookChanged"]
        assert {int(s) for s in first.events[:, 1]} == {first.first_seq}
    finally:
        await node.stop()


async def test_concurrent_submissions_share_group_commits(tmp_path: Path) -> None:
    node = await started(tmp_path)
    await funded(node, range(50))
    try:
        before = node.stats.batches
        orders = [[NewOrder(i % 50, 1, Side.BUY, 1, price=300_000)] for i in range(300)]
        receipts = await asyncio.gather(*(node.submit(o) for o in orders))
        seqs = sorted(r.first_seq for r in receipts)
        assert seqs == list(range(seqs[0], seqs[0] + 300))
        assert node.stats.batches - before < 300 / 4
    finally:
        await node.stop()


async def test_a_command_that_does_not_fit_fails_alone(tmp_path: Path) -> None:
    node = await started(tmp_path)
    await funded(node, range(1, 3))
    try:
        good = NewOrder(1, 0, Side.BUY, 1, price=141_000, client_order_id="g")
        huge = NewOrder(2, 0, Side.BUY, 1, price=2**70, client_order_id="h")
        results = await asyncio.gather(node.submit([good]), node.submit([huge]),
                                       return_exceptions=True)
        assert isinstance(results[1], InvalidCommandError)
        assert next(type(e).__name__ for e in ev.decode(results[0].events)) == "Accepted"
        after = await node.submit([NewOrder(2, 0, Side.BUY, 1, price=141_000,
                                            client_order_id="h")])
        assert after.first_seq == results[0].last_seq + 1, "nothing was sequenced for it"
    finally:
        await node.stop()


async def test_restart_recovers_the_same_state(tmp_path: Path) -> None:
    node = await started(tmp_path, snapshot_every=7)
    await funded(node, range(5))
    for i in range(40):
        await node.submit([NewOrder(i % 5, 2, Side(i % 2), 3, price=152_040 + (i % 7) * 5)])
    seq, digest = node.core.last_seq, node.core.state_hash()
    await node.stop()
    again = await started(tmp_path)
    try:
        assert again.recovery is not None
        assert again.recovery.snapshot_seq == seq  # stop() snapshots the final state
        assert again.core.last_seq == seq
        assert again.core.state_hash() == digest
        receipt = await again.submit([NewOrder(1, 2, Side.BUY, 1, price=152_040)])
        assert receipt.first_seq == seq + 1
    finally:
        await again.stop()


async def test_a_second_node_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    node = await started(tmp_path)
    try:
        with pytest.raises(DataDirLockedError):
            await started(tmp_path)
    finally:
        await node.stop()


async def test_a_journal_failure_stops_the_node_instead_of_running_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = await started(tmp_path)
    seq_before = node.core.last_seq

    def disk_full() -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(node._writer, "flush", disk_full)
    with pytest.raises(NodeStoppedError, match="No space left"):
        await node.submit([NewOrder(1, 0, Side.BUY, 1, price=141_230)])
    with pytest.raises(NodeStoppedError):
        await node.submit([NewOrder(1, 0, Side.BUY, 1, price=141_230)])
    monkeypatch.undo()
    await node.stop()
    restarted = await started(tmp_path)
    try:
        # The failed batch was never made durable, so it is not part of the recovered state.
        assert restarted.core.last_seq == seq_before
    finally:
        await restarted.stop()


async def _snapshots_reach(node: Node, count: int) -> None:
    for _ in range(500):
        if node.stats.snapshots >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{node.stats.snapshots} snapshots, expected {count}")


async def test_snapshots_written_while_commits_go_on_hold_the_state_of_their_seq(
        tmp_path: Path) -> None:
    # A snapshot is written in the background while later batches commit: what it holds
    # must be the state as of its own sequence number, not of a later one.
    node = await started(tmp_path, snapshot_every=10)
    hashes: dict[int, str] = {}
    try:
        await funded(node, range(4))
        for i in range(60):
            receipt = await node.submit([NewOrder(i % 4, 2, Side(i % 2), 1,
                                                  price=152_040 + (i % 9) * 5)])
            hashes[receipt.last_seq] = node.core.state_hash()
        await _snapshots_reach(node, 3)
    finally:
        await node.stop(snapshot_now=False)
    paths = snapshot.snapshot_paths(snapshot_dir(tmp_path))
    assert len(paths) >= 3
    for path in paths:
        image = snapshot.decode(path.read_bytes())
        assert image.last_seq in hashes
        assert Core.from_image(image).state_hash() == hashes[image.last_seq]


async def test_a_failed_snapshot_is_tried_again_later_and_the_node_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    node = await started(tmp_path, snapshot_every=5)
    folder = snapshot_dir(tmp_path)
    try:
        await funded(node, range(2))
        await _snapshots_reach(node, 1)  # start-up's commands already made one due
        landed = node.stats.snapshots
        shutil.rmtree(folder, ignore_errors=True)
        folder.write_bytes(b"")  # where the snapshots go is now a file: the write fails
        for i in range(10):  # one command a commit, each given time for a write to end
            await node.submit([NewOrder(i % 2, 2, Side(i % 2), 1, price=152_040)])
            await asyncio.sleep(0.02)
        assert "snapshot write failed" in caplog.text
        # tried again only a whole interval (5 commands) later, not at every commit
        assert 1 <= node.stats.snapshot_failures <= 3
        assert node.stats.snapshots == landed
        folder.unlink()
        receipts = [await node.submit([NewOrder(i % 2, 2, Side(i % 2), 1, price=152_045)])
                    for i in range(6)]  # still taking orders, and the next one is due
        await _snapshots_reach(node, landed + 1)
        assert node.stats.last_snapshot_seq >= receipts[0].first_seq
        seq, digest = node.core.last_seq, node.core.state_hash()
    finally:
        await node.stop(snapshot_now=False)
    again = await started(tmp_path)
    try:
        assert again.recovery is not None
        assert again.recovery.snapshot_seq > 0
        assert (again.core.last_seq, again.core.state_hash()) == (seq, digest)
    finally:
        await again.stop()
