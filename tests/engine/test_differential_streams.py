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
from engine.fastbook.arena import O_OID, views
from engine.fastbook.integrity import audit
from engine.sequencer import CountingClock, Sequencer
from engine.types import StpMode
from portfolio.arena import Q_OID
from portfolio.arena import views as risk_views
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


def _slot_problems(core: Core) -> list[str]:
    """The account side keeps each open order in the row of its book slot: the orders it
    holds must be exactly the book's, each at the book's slot."""
    book_orders, index_table = views(core.book.arena)[3:5]
    live = index_table[index_table[:, 0] != 0]
    risk_orders = risk_views(core.risk.arena)[4]
    held = np.flatnonzero(risk_orders[:, Q_OID] != 0)
    problems = []
    if sorted(held.tolist()) != sorted(live[:, 1].tolist()):
        problems.append(f"rows {sorted(held.tolist())} vs book slots {sorted(live[:, 1].tolist())}")
    wrong = held[risk_orders[held, Q_OID] != book_orders[held, O_OID]]
    if len(wrong):
        problems.append(f"rows {wrong.tolist()} hold another order than the book's slot")
    return problems


@pytest.mark.parametrize("seed", [5, 6])
def test_a_core_restored_mid_flow_goes_on_exactly_as_the_original(seed: int) -> None:
    """Images taken with orders open, loaded into a new core: both then take the same
    batches and must give the same events and state (the restored account side finds its
    orders at the restored book's slots, which differ from the original's)."""
    _, original = cores(risk=True)
    flow = Flow(seed, account_commands=True)
    clock = CountingClock()
    sequencer = Sequencer(1, clock)
    restored: Core | None = None
    restores_with_open_orders = 0
    for k, batch_commands in enumerate(_batches(flow, sequencer, random.Random(seed),
                                                funds=200_000)):
        batch = sequencer.stamp(CommandBatch.of(batch_commands))
        if any(isinstance(c, EndOfDay) for c in batch_commands):
            clock.next_day()
        if k % 100 == 1:
            assert _slot_problems(original) == []
            restored = Core.from_image(original.image(), book="fast")
            restores_with_open_orders += len(original.risk.state().orders) > 0
        events = original.apply(batch)
        if restored is not None:
            again = restored.apply(CommandBatch(batch.rows.copy(), list(batch.extras)))
            assert np.array_equal(events, again), _diff(events, again)
            if k % 100 == 0:
                assert _slot_problems(restored) == []
                assert restored.state_hash() == original.state_hash()
    assert restores_with_open_orders >= 5
