"""The numba book against the reference book, command for command.

A Hypothesis state machine sends the same random commands (every order type and validity,
icebergs, post-only, STP modes, client order ids, cancels, amends, cancel-all, phase
changes with auctions and halts) to a core on each book. After every step it requires
identical event rows and identical canonical states, audits the fast book's internals, and
checks the invariants of a sound book against a model built from the events alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from engine import events as ev
from engine.commands import (
    AddInstrument,
    Amend,
    Cancel,
    CancelAll,
    Command,
    CommandBatch,
    NewOrder,
    SetPhase,
)
from engine.core import Core, CoreConfig
from engine.fastbook.integrity import audit
from engine.instruments import InstrumentSpec
from engine.layout import ST_BOOK
from engine.sequencer import CountingClock, Sequencer
from engine.snapshot_types import ORDER_FIELDS
from engine.types import AUCTION_AGGRESSOR, OrderType, Phase, Side, StpMode, TimeInForce
from tests.engine.harness import FUT, TEST

ACCOUNTS = 4
SPECS = (TEST, FUT)


@dataclass
class Tracked:
    qty: int
    filled: int = 0
    removed: int = 0
    done: bool = False


def prices(spec: InstrumentSpec, spread: int = 8) -> st.SearchStrategy[int]:
    """Mostly prices on the grid near the reference; sometimes band edges or bad prices."""
    on_grid = st.integers(-spread, spread).map(lambda k: spec.ref_price + k * spec.tick)
    edges = st.sampled_from([spec.band_lo, spec.band_hi])
    broken = st.sampled_from([spec.ref_price + 1, spec.band_hi + spec.tick, 0])
    return st.one_of(on_grid, on_grid, on_grid, on_grid, on_grid, edges, broken)


def check_priority(before: dict[int, dict[str, int]], after: dict[int, dict[str, int]],
                   events: list[ev.Event]) -> None:
    """Price-time priority, judged from outside the book: no continuous trade may fill a
    resting order while another order on its side, untouched by the command, rests at a
    better price, or at the same price with earlier priority."""
    untouched = [o for oid, o in after.items() if before.get(oid) == o]
    for e in events:
        if not isinstance(e, ev.Traded) or e.aggressor == AUCTION_AGGRESSOR:
            continue
        passive = e.sell_order_id if e.aggressor == Side.BUY else e.buy_order_id
        filled = before.get(passive)
        if filled is None:  # it rested during this very command (a fired stop)
            continue
        for o in untouched:
            if o["instr"] != e.instrument or o["side"] != filled["side"]:
                continue
            better = o["price"] < e.price if o["side"] == Side.SELL else o["price"] > e.price
            earlier = o["price"] == e.price and o["prio"] < filled["prio"]
            ahead = better or earlier
            assert not ahead, f"order {passive} filled at {e.price} while {o['oid']} waits ahead"


class BookMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        config = CoreConfig(max_orders=40, max_accounts=ACCOUNTS,
                            stp_default=StpMode.CANCEL_RESTING, initial_levels=2048, risk=False)
        self.ref = Core(msgspec.structs.replace(config, book="reference"))
        self.fast = Core(msgspec.structs.replace(config, book="fast"))
        self.sequencer = Sequencer(1, CountingClock())
        self.orders: dict[int, Tracked] = {}
        self.client_ids: list[tuple[int, str]] = []
        self.submit([AddInstrument(spec) for spec in SPECS])

    # --- driving both cores ---------------------------------------------------------------

    def submit(self, commands: list[Command]) -> None:
        batch = self.sequencer.stamp(CommandBatch.of(commands))
        copy = CommandBatch(batch.rows.copy(), list(batch.extras))
        before = self.resting()
        expected = self.ref.apply(batch)
        actual = self.fast.apply(copy)
        if not np.array_equal(expected, actual):
            raise AssertionError(
                "event streams differ\nreference:\n"
                + "\n".join(map(repr, ev.decode(expected)))
                + "\nfast:\n" + "\n".join(map(repr, ev.decode(actual)))
            )
        events = ev.decode(expected)
        self.track(events)
        check_priority(before, self.resting(), events)

    def track(self, events: list[ev.Event]) -> None:
        for e in events:
            match e:
                case ev.Accepted():
                    self.orders[e.order_id] = Tracked(e.qty)
                case ev.Traded():
                    for oid, leaves in ((e.buy_order_id, e.buy_leaves),
                                        (e.sell_order_id, e.sell_leaves)):
                        order = self.orders[oid]
                        order.filled += e.qty
                        assert not order.done, f"order {oid} traded after it was done"
                        order.done = leaves == 0
                        assert order.qty - order.filled == leaves
                    if e.aggressor != AUCTION_AGGRESSOR:
                        assert e.buy_account != e.sell_account, "self-trade in continuous"
                case ev.Cancelled() | ev.Expired():
                    order = self.orders[e.order_id]
                    assert not order.done
                    order.removed += e.qty
                    order.done = True
                    assert order.filled + order.removed == order.qty
                case ev.Amended():
                    order = self.orders[e.order_id]
                    order.qty = e.qty
                    assert order.qty - order.filled == e.leaves

    # --- rules -------------------------------------------------------------------------------

    @initialize(seed=st.integers(0, 2**32 - 1))
    def seed_flow(self, seed: int) -> None:
        # Plain random choices for the high-volume order flow: Hypothesis's own draws
        # favour repeating the simplest value (every order a buy), which rarely trades.
        self.rnd = random.Random(seed)

    @rule()
    def limit_order(self) -> None:
        """The common case: a plain limit order near the reference, often crossing."""
        rnd = self.rnd
        instr = rnd.choice([0, 0, 0, 1])
        spec = SPECS[instr]
        price = spec.ref_price + rnd.randint(-4, 4) * spec.tick
        if rnd.random() < 0.05:
            price = rnd.choice([spec.band_lo, spec.band_hi])
        self.submit([NewOrder(
            account=rnd.randrange(ACCOUNTS), instrument=instr, side=rnd.choice(list(Side)),
            qty=rnd.randint(1, 8) * spec.lot, price=price,
            tif=TimeInForce.IOC if rnd.random() < 0.2 else TimeInForce.DAY,
            disclosed=3 * spec.lot if rnd.random() < 0.2 else 0,
        )])

    @rule()
    def take_liquidity(self) -> None:
        """An order priced through the best opposite level: it trades if the phase allows."""
        rnd = self.rnd
        instr = rnd.choice([0, 0, 0, 1])
        spec = SPECS[instr]
        side = rnd.choice(list(Side))
        opposite = [r for r in self.rows() if r["instr"] == instr and r["state"] == ST_BOOK
                    and r["side"] != side]
        if not opposite:
            return
        best = (min if side == Side.BUY else max)(r["price"] for r in opposite)
        through = rnd.randint(0, 3) * spec.tick
        price = min(best + through, spec.band_hi) if side == Side.BUY else max(
            best - through, spec.band_lo)
        otype = OrderType.MARKET if rnd.random() < 0.25 else OrderType.LIMIT
        self.submit([NewOrder(
            account=rnd.randrange(ACCOUNTS), instrument=instr, side=side,
            qty=rnd.randint(1, 10) * spec.lot, price=price if otype == OrderType.LIMIT else 0,
            type=otype, tif=rnd.choice(list(TimeInForce)), stp=rnd.choice(list(StpMode)),
        )])

    def resting(self) -> dict[int, dict[str, int]]:
        return {r["oid"]: r for r in self.rows() if r["state"] == ST_BOOK}

    def rows(self) -> list[dict[str, int]]:
        return [dict(zip(ORDER_FIELDS, v, strict=True))
                for v in self.ref.book.state().orders.tolist()]

    @rule(data=st.data())
    def any_order(self, data: st.DataObject) -> None:
        """Any order at all: every type, validity and option, valid or not."""
        instr = data.draw(st.sampled_from([0, 0, 0, 1]), "instr")
        spec = SPECS[instr]
        otype = data.draw(st.sampled_from(list(OrderType)), "type")
        has_limit = otype in (OrderType.LIMIT, OrderType.SL)
        is_stop = otype in (OrderType.SL, OrderType.SL_M)
        qty = data.draw(st.sampled_from([1, 2, 3, 5, 8, 13, 0, 10_000]), "lots") * spec.lot
        qty += data.draw(st.sampled_from([0] * 12 + [1]), "off-lot")
        disclosed = data.draw(st.sampled_from([0, 0, 0, qty // 2, qty // 20, qty]), "dq")
        account = data.draw(st.integers(0, ACCOUNTS - 1), "acct")
        client_order_id = ""
        if data.draw(st.sampled_from([False, False, True]), "with id"):
            if self.client_ids and data.draw(st.sampled_from([False, False, True]), "reuse"):
                account, client_order_id = data.draw(st.sampled_from(self.client_ids))
            else:
                client_order_id = f"c{len(self.client_ids)}"
                self.client_ids.append((account, client_order_id))
        self.submit([NewOrder(
            account=account, instrument=instr,
            side=data.draw(st.sampled_from(list(Side)), "side"), qty=qty,
            price=data.draw(prices(spec), "price") if has_limit else 0, type=otype,
            tif=data.draw(st.sampled_from(list(TimeInForce)), "tif"),
            trigger=data.draw(prices(spec, 6), "trigger") if is_stop else 0,
            disclosed=disclosed,
            post_only=data.draw(st.sampled_from([False] * 5 + [True]), "post"),
            stp=data.draw(st.sampled_from(list(StpMode)), "stp"),
            client_order_id=client_order_id,
        )])

    def live(self) -> list[int]:
        return [oid for oid, o in self.orders.items() if not o.done]

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(self.live()), "oid")
        account = self.owner(oid) if data.draw(st.integers(0, 9)) else 0
        self.submit([Cancel(account, order_id=oid)])

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        oid = data.draw(st.sampled_from(self.live()), "oid")
        row = self.order_row(oid)
        if row is None:
            return
        spec = SPECS[row["instr"]]
        self.submit([Amend(
            self.owner(oid), order_id=oid,
            price=data.draw(st.one_of(st.just(0), prices(spec)), "price"),
            qty=data.draw(st.sampled_from([0, 0, row["qty"] - spec.lot, row["qty"] + spec.lot,
                                           row["filled"]]), "qty"),
            trigger=data.draw(st.one_of(st.just(0), prices(spec, 6)), "trigger"),
            disclosed=data.draw(st.sampled_from([-1, -1, 0, spec.lot, row["qty"]]), "dq"),
        )])

    @rule(account=st.integers(0, ACCOUNTS - 1), instr=st.sampled_from([-1, 0, 1]))
    def cancel_all(self, account: int, instr: int) -> None:
        self.submit([CancelAll(account, instr)])

    @rule(instr=st.sampled_from([0, 0, 1]), phase=st.sampled_from(list(Phase)),
          now=st.sampled_from([False, False, False, True]))
    def set_phase(self, instr: int, phase: Phase, now: bool) -> None:
        """Now and then, any phase change, allowed or not (closing expires everything)."""
        if now:
            self.submit([SetPhase(instr, phase)])

    @rule(instr=st.sampled_from([0, 0, 1]), auction=st.booleans())
    def reopen(self, instr: int, auction: bool) -> None:
        """One step back towards continuous trading, through a call auction or not."""
        phase = self.ref.book.phase(instr)
        if phase in (Phase.CLOSED, Phase.HALTED) and auction:
            self.submit([SetPhase(instr, Phase.PRE_OPEN)])
        elif phase != Phase.CONTINUOUS:
            self.submit([SetPhase(instr, Phase.CONTINUOUS)])

    @rule()
    def stop_order(self) -> None:
        """A stop just beyond the last price, so that trading soon fires it."""
        rnd = self.rnd
        instr = rnd.choice([0, 0, 1])
        spec = SPECS[instr]
        last = int(self.ref.book.state().instruments[instr, 1]) or spec.ref_price
        side = rnd.choice(list(Side))
        away = rnd.randint(1, 3) * spec.tick
        trigger = last + away if side == Side.BUY else last - away
        otype = rnd.choice([OrderType.SL, OrderType.SL_M])
        slack = rnd.randint(0, 3) * spec.tick
        price = trigger + slack if side == Side.BUY else trigger - slack
        self.submit([NewOrder(
            account=rnd.randrange(ACCOUNTS), instrument=instr, side=side,
            qty=rnd.randint(1, 4) * spec.lot, type=otype,
            price=price if otype == OrderType.SL else 0, trigger=trigger,
            tif=rnd.choice([TimeInForce.DAY, TimeInForce.DAY, TimeInForce.IOC, TimeInForce.FOK]),
        )])

    def owner(self, oid: int) -> int:
        row = self.order_row(oid)
        return row["acct"] if row else 0

    def order_row(self, oid: int) -> dict[str, int] | None:
        for values in self.ref.book.state().orders.tolist():
            if values[0] == oid:
                return dict(zip(ORDER_FIELDS, values, strict=True))
        return None

    @invariant()
    def books_agree(self) -> None:
        assert self.ref.book.state().same_as(self.fast.book.state())
        assert self.ref.state_hash() == self.fast.state_hash()

    @invariant()
    def fast_book_is_sound(self) -> None:
        assert audit(self.fast.book.arena) == []

    @invariant()
    def live_orders_match_the_event_model(self) -> None:
        resting = {}
        for values in self.ref.book.state().orders.tolist():
            row = dict(zip(ORDER_FIELDS, values, strict=True))
            resting[row["oid"]] = row
            tracked = self.orders[row["oid"]]
            assert not tracked.done, "an order is both done and in the book"
            assert row["leaves"] == tracked.qty - tracked.filled
            assert row["filled"] == tracked.filled
        assert set(resting) == set(self.live())

    @invariant()
    def continuous_books_are_not_crossed(self) -> None:
        state = self.ref.book.state()
        rows = [dict(zip(ORDER_FIELDS, v, strict=True)) for v in state.orders.tolist()]
        for instr, (phase, _) in enumerate(state.instruments.tolist()):
            if phase != Phase.CONTINUOUS:
                continue
            bids = [r["price"] for r in rows if r["instr"] == instr and r["state"] == ST_BOOK
                    and r["side"] == Side.BUY]
            asks = [r["price"] for r in rows if r["instr"] == instr and r["state"] == ST_BOOK
                    and r["side"] == Side.SELL]
            if bids and asks:
                assert max(bids) < min(asks), "crossed book in continuous trading"


TestBooksAgree = BookMachine.TestCase
TestBooksAgree.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def test_the_priority_check_catches_a_queue_jump() -> None:
    def order(oid: int, price: int, prio: int) -> dict[str, int]:
        return {"oid": oid, "instr": 0, "side": int(Side.SELL), "price": price, "prio": prio,
                "state": ST_BOOK}

    first, second, cheaper = order(1, 10_000, 1), order(2, 10_000, 2), order(3, 9_995, 3)
    fill_second = ev.Traded(9, 0, 0, 1, int(Side.BUY), 10_000, 5, 9, 2, 0, 1, 0, 0)
    before = {1: first, 2: second}
    with pytest.raises(AssertionError, match="waits ahead"):
        check_priority(before, {1: first}, [fill_second])  # the later order filled first
    with pytest.raises(AssertionError, match="waits ahead"):
        check_priority(before | {3: cheaper}, {1: first, 3: cheaper}, [fill_second])
    check_priority({2: second}, {}, [fill_second])  # nothing waited ahead: fine
