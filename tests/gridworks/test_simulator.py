"""The market simulator, driven against a core without an event loop: deterministic, its
quotes are valid and two-sided, takers trade against them, and the books balance."""

from __future__ import annotations

from engine import events as ev
from engine.commands import AddInstrument, CommandBatch, CreateAccount, Deposit, NewOrder, SetPhase
from engine.core import Core, CoreConfig
from engine.instruments import demo_instruments
from engine.sequencer import Sequencer
from engine.types import Phase
from gridworks.simulator import (
    SECOND_NS,
    SIM_FUNDS,
    MarketSimulator,
    SimAccounts,
    SimConfig,
    account_setup,
)
from marketdata.depth import depth_from_book
from portfolio.views import trial_balance

START = 1_764_000_000 * SECOND_NS
SPECS = demo_instruments()
ACCOUNTS = SimAccounts(makers=(0, 1), takers=(2, 3, 4))
OPEN = [True] * len(SPECS)


class SimulatedTime:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> int:
        return self.now


def simulator(seed: int = 7, **config: float) -> MarketSimulator:
    return MarketSimulator(SPECS, ACCOUNTS, SimConfig(seed=seed, **config), START)  # type: ignore[arg-type]


def test_the_same_seed_and_times_give_the_same_orders() -> None:
    first, second, other = simulator(), simulator(), simulator(seed=8)
    times = [START + k * SECOND_NS // 10 for k in range(1, 50)]
    out = [[a.due(t, OPEN) for t in times] for a in (first, second, other)]
    assert out[0] == out[1]
    assert out[0] != out[2]
    assert sum(map(len, out[0])) > 100


def test_quotes_are_on_the_grid_inside_the_band_and_never_crossed() -> None:
    sim = simulator(volatility_bp=40)  # a wild market, to reach the band's edges
    for step in range(1, 400):
        for command in sim.due(START + step * SECOND_NS, OPEN):
            if not isinstance(command, NewOrder) or command.account not in ACCOUNTS.makers:
                continue
            spec = SPECS[command.instrument]
            assert command.price % spec.tick == 0
            assert spec.band_lo <= command.price <= spec.band_hi
            assert command.qty % spec.lot == 0
            assert not spec.freeze_qty or command.qty <= spec.freeze_qty
            assert command.product in spec.products
    for instr in range(len(SPECS)):
        bids, asks = sim._ladder(instr)
        assert bids
        assert asks
        assert max(bids) < min(asks)


def test_closed_instruments_get_no_orders_but_stay_scheduled() -> None:
    sim = simulator()
    closed = [i != 0 for i in range(len(SPECS))]  # only the first is shut
    commands = [c for k in range(1, 30) for c in sim.due(START + k * SECOND_NS, closed)]
    assert commands
    assert all(c.instrument != 0 for c in commands)  # type: ignore[attr-defined]
    later = [c for k in range(30, 40) for c in sim.due(START + k * SECOND_NS, OPEN)]
    assert any(c.instrument == 0 for c in later)  # type: ignore[attr-defined]


def test_a_simulated_minute_trades_every_instrument_and_balances_the_books() -> None:
    clock = SimulatedTime()
    core = Core(CoreConfig(book="fast", max_orders=8192, max_accounts=16))
    sequencer = Sequencer(1, clock)

    def apply(commands: list) -> list[ev.Event]:
        return ev.decode(core.apply(sequencer.stamp(CommandBatch.of(commands))))

    setup: list = [AddInstrument(s) for s in SPECS]
    setup += [SetPhase(i, p) for i in range(len(SPECS)) for p in (Phase.PRE_OPEN,
                                                                   Phase.CONTINUOUS)]
    setup += [CreateAccount(f"sim-{a}") for a in range(5)]
    setup += [c for a in range(5) for c in (Deposit(a, SIM_FUNDS), *account_setup(a))]
    assert not [e for e in apply(setup) if isinstance(e, ev.Rejected)]

    sim = simulator(speed=2)
    traded: set[int] = set()
    rejected: list[ev.Rejected] = []
    for step in range(1, 601):  # a minute in steps of 100 ms
        clock.now = START + step * SECOND_NS // 10
        commands = sim.due(clock.now, OPEN)
        if commands:
            out = apply(commands)
            traded |= {e.instrument for e in out if isinstance(e, ev.Traded)}
            rejected += [e for e in out if isinstance(e, ev.Rejected)]
    assert traded == set(range(len(SPECS))), "every instrument traded"
    assert not rejected, "the simulator's orders are all valid"
    depths = depth_from_book(core.book.state().orders, len(SPECS))
    for instr, depth in enumerate(depths):
        bids, asks = depth.top(5)
        assert bids, SPECS[instr].symbol
        assert asks, SPECS[instr].symbol
        assert bids[0][0] < asks[0][0], "the book is never left crossed"
    assert core.risk is not None
    assert trial_balance(core.risk.state()).balanced


def test_a_simulator_that_fell_behind_skips_instead_of_catching_up() -> None:
    steady, stalled = simulator(), simulator()
    per_second = sum(len(steady.due(START + k * SECOND_NS // 10, OPEN)) for k in range(1, 11))
    burst = stalled.due(START + 60 * SECOND_NS, OPEN)  # a minute without a turn
    assert len(burst) < per_second, "a minute late does not send a minute of orders"
    assert stalled.next_due() > START + 60 * SECOND_NS
    after = sum(len(stalled.due(START + 60 * SECOND_NS + k * SECOND_NS // 10, OPEN))
                for k in range(1, 11))
    assert after > per_second / 3, "and then it goes on at its rate"
