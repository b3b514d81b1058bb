"""Properties of the account side under random command streams (Hypothesis).

Both implementations get the same commands: money moves, limits, orders of every product,
cancels, amends, marks, kill switches, square-offs, phase changes and day closes. After
every step their events and canonical states must be identical, the ledger must balance,
blocked funds must equal what open orders still need, and value must be conserved at any
marks (trades move it between accounts; only charges take it out).
"""

from __future__ import annotations

import random

import msgspec
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from engine import events as ev
from engine.commands import (
    AddInstrument,
    Amend,
    Cancel,
    Command,
    CommandBatch,
    Deposit,
    EndOfDay,
    KillSwitch,
    Mark,
    NewOrder,
    SetLimits,
    SetPhase,
    SquareOff,
    Withdraw,
)
from engine.core import Core, CoreConfig
from engine.sequencer import CountingClock, Sequencer
from engine.types import KillScope, OrderType, Phase, Product, Side, TimeInForce
from tests.engine.harness import FUT, TEST
from tests.risk import invariants

ACCOUNTS = 4
SPECS = (TEST, FUT)


class AccountsMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        config = CoreConfig(max_orders=40, max_accounts=ACCOUNTS, initial_levels=2048,
                            max_positions=24, maintenance_bps=9_000)
        self.ref = Core(msgspec.structs.replace(config, book="reference"))
        self.fast = Core(msgspec.structs.replace(config, book="fast"))
        self.clock = CountingClock()
        self.sequencer = Sequencer(1, self.clock)
        self.placed: list[tuple[int, int]] = []
        self.submit([AddInstrument(spec) for spec in SPECS])

    @initialize(seed=st.integers(0, 2**32 - 1))
    def seed_flow(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.submit([c for a in range(ACCOUNTS)
                     for c in (Deposit(a, self.rnd.choice([50_000, 500_000])),
                               SetLimits(a, rate_per_s=0))])

    def submit(self, commands: list[Command]) -> None:
        batch = self.sequencer.stamp(CommandBatch.of(commands))
        if any(isinstance(c, EndOfDay) for c in commands):
            self.clock.next_day()
        expected = self.ref.apply(CommandBatch(batch.rows.copy(), list(batch.extras)))
        actual = self.fast.apply(batch)
        assert np.array_equal(expected, actual), "\n".join(
            ["reference:", *map(repr, ev.decode(expected)), "fast:",
             *map(repr, ev.decode(actual))])

    # --- rules -------------------------------------------------------------------------------

    @rule()
    def order(self) -> None:
        rnd = self.rnd
        instr = rnd.choice([0, 0, 1])
        spec = SPECS[instr]
        otype = rnd.choice([OrderType.LIMIT] * 6 + [OrderType.MARKET, OrderType.SL_M])
        side = rnd.choice(list(Side))
        price = spec.ref_price + rnd.randint(-3, 3) * spec.tick
        trigger = 0
        if otype == OrderType.SL_M:
            trigger = spec.ref_price + (3 if side == Side.BUY else -3) * spec.tick
        account = rnd.randrange(ACCOUNTS)
        self.placed.append((self.sequencer.next_seq, account))
        self.submit([NewOrder(
            account, instr, side, rnd.randint(1, 6) * spec.lot,
            price=price if otype == OrderType.LIMIT else 0, type=otype, trigger=trigger,
            tif=rnd.choice([TimeInForce.DAY] * 3 + [TimeInForce.IOC]),
            product=rnd.choice([*sorted(spec.products), Product.MIS]),
        )])

    @rule()
    def cancel_or_amend(self) -> None:
        if not self.placed:
            return
        oid, account = self.rnd.choice(self.placed[-30:])
        if self.rnd.random() < 0.5:
            self.submit([Cancel(account, order_id=oid)])
        else:
            spec = SPECS[0]
            self.submit([Amend(account, order_id=oid,
                               qty=self.rnd.choice([0, 1, 3, 8]),
                               price=self.rnd.choice([0, spec.ref_price + spec.tick]))])

    @rule()
    def money(self) -> None:
        rnd = self.rnd
        account = rnd.randrange(ACCOUNTS)
        amount = rnd.choice([10_000, 100_000, 400_000])
        self.submit([(Deposit if rnd.random() < 0.5 else Withdraw)(account, amount)])

    @rule()
    def limits(self) -> None:
        rnd = self.rnd
        self.submit([SetLimits(rnd.randrange(ACCOUNTS), credit=rnd.choice([0, 100_000]),
                               max_long=rnd.choice([0, 10, 100]),
                               max_short=rnd.choice([0, 10, 100]),
                               max_open_orders=rnd.choice([0, 4]), rate_per_s=0)])

    @rule()
    def control(self) -> None:
        rnd = self.rnd
        pick = rnd.random()
        if pick < 0.4:
            command: Command = Mark()
        elif pick < 0.6:
            scope = rnd.choice(list(KillScope))
            target = rnd.randrange(ACCOUNTS) if scope == KillScope.ACCOUNT else 0
            command = KillSwitch(scope, target, on=rnd.random() < 0.3,
                                 cancel_resting=rnd.random() < 0.5)
        elif pick < 0.75:
            command = SquareOff(rnd.choice([Product.MIS, Product.NRML]))
        elif pick < 0.85:
            command = EndOfDay()
        else:
            instr = rnd.choice([0, 1])
            phase = self.ref.book.phase(instr)
            target = Phase.CONTINUOUS if phase != Phase.CONTINUOUS else rnd.choice(
                [Phase.HALTED, Phase.CLOSED])
            command = SetPhase(instr, target)
        self.submit([command])

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def implementations_agree(self) -> None:
        ref, fast = self.ref.risk.state(), self.fast.risk.state()
        assert ref.same_as(fast), "\n".join(ref.differences(fast))

    @invariant()
    def position_queries_agree(self) -> None:
        """An account's positions, alone or several accounts' at once (as the projection
        reads them), the same from both implementations and both queries."""
        accounts = np.arange(ACCOUNTS, dtype=np.int64)
        one_by_one = [row for a in range(ACCOUNTS) for row in self.fast.risk.positions_of(a)]
        assert self.fast.risk.positions_of_accounts(accounts).tolist() == one_by_one
        assert self.ref.risk.positions_of_accounts(accounts).tolist() == one_by_one
        some = accounts[1::2]
        assert (self.fast.risk.positions_of_accounts(some).tolist()
                == self.ref.risk.positions_of_accounts(some).tolist())

    @invariant()
    def accounts_are_consistent(self) -> None:
        invariants.check(self.ref.risk.state())

    @invariant()
    def value_is_conserved(self) -> None:
        state = self.ref.risk.state()
        for marks in ([s.ref_price for s in SPECS], [s.band_lo for s in SPECS],
                      [s.band_hi + 7 for s in SPECS]):
            invariants.check_value(state, marks)


TestAccounts = AccountsMachine.TestCase
TestAccounts.settings = settings(
    max_examples=60, stateful_step_count=60, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
