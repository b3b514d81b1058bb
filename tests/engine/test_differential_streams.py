"""Long seeded order flows through both books: identical events, batch for batch.

The Hypothesis machine finds and shrinks bugs in short histories; these streams add
volume (tens of thousands of commands with auctions, halts, stops and icebergs mixed in)
and random batch boundaries, which the fast book must not be sensitive to.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from engine import events as ev
from engine.commands import CommandBatch, EndOfDay
from engine.core import Core, CoreConfig
from engine.fastbook.integrity import audit
from engine.sequencer import CountingClock, Sequencer
from engine.types import StpMode
from tests.engine.flow import Flow
from tests.risk import invariants

COMMANDS = 20_000


def cores(risk: bool, max_orders: int = 400) -> tuple[Core, Core]:
    config = {"max_orders": max_orders, "max_accounts": 8, "initial_levels": 2048,
              "stp_default": StpMode.CANCEL_RESTING, "risk": risk, "max_positions": 64,
              "maintenance_bps": 10_000}  # calls as soon as equity is below the margin held
    return Core(CoreConfig(book="reference", **config)), Core(CoreConfig(book="fast", **config))


@pytest.mark.parametrize(("seed", "risk"), [(1, False), (2, False), (3, True), (4, True)])
def test_long_flows_agree(seed: int, risk: bool) -> None:
    ref, fast = cores(risk)
    flow = Flow(seed, account_commands=risk)
    clock = CountingClock()
    sequencer = Sequencer(1, clock)
    sizes = random.Random(seed)
    kinds: dict[str, int] = {}
    for batch_commands in _batches(flow, sequencer, sizes, funds=200_000 if risk else 0):
        batch = sequencer.stamp(CommandBatch.of(batch_commands))
        if any(isinstance(c, EndOfDay) for c in batch_commands):
            clock.next_day()
        expected = ref.apply(CommandBatch(batch.rows.copy(), list(batch.extras)))
        actual = fast.apply(batch)
        assert np.array_equal(expected, actual), _diff(expected, actual)
        for e in ev.decode(expected):
            name = type(e).__name__
            kinds[name] = kinds.get(name, 0) + 1
            if isinstance(e, ev.Rejected):
                kinds[e.code.name] = kinds.get(e.code.name, 0) + 1
        if sequencer.next_seq % 1000 < len(batch_commands):
            assert audit(fast.book.arena) == []
            if risk:
                invariants.check(ref.risk.state())
                assert ref.risk.state().same_as(fast.risk.state())
    assert ref.state_hash() == fast.state_hash()
    assert audit(fast.book.arena) == []
    # The flow must really exercise the core, or agreement proves little.
    for kind in ("Traded", "Triggered", "AuctionResult", "Amended", "Restated"):
        assert kinds.get(kind, 0) > 0, f"the flow produced no {kind} events: {kinds}"
    assert kinds["Traded"] > COMMANDS // (40 if risk else 20)
    if risk:
        for kind in ("LedgerPosted", "MarginCall", "KillSwitchSet", "DayClosed",
                     "INSUFFICIENT_FUNDS", "NO_HOLDINGS", "POSITION_LIMIT", "INTRADAY_CUTOFF"):
            assert kinds.get(kind, 0) > 0, f"the flow produced no {kind}: {kinds}"


def _batches(flow: Flow, sequencer: Sequencer, sizes: random.Random, funds: int):
    yield flow.setup(funds)
    done = 0
    while done < COMMANDS:
        n = min(sizes.choice([1, 1, 2, 5, 16, 64]), COMMANDS - done)
        yield list(flow.commands(n, sequencer.next_seq))
        done += n


def _diff(expected: np.ndarray, actual: np.ndarray) -> str:
    lines = ["event streams differ", "reference:"]
    lines += [repr(e) for e in ev.decode(expected)]
    lines += ["fast:"] + [repr(e) for e in ev.decode(actual)]
    return "\n".join(lines)
