"""A seeded random order flow exercising every feature of the core.

Unlike the Hypothesis machine (which shrinks failures to a few steps), this produces long
realistic streams: a random-walk mid price per instrument, passive and aggressive limits,
market, IOC and FOK orders, stops around the last price, icebergs, post-only, client
order ids (some reused), cancels and amends of earlier orders, cancel-all, and trading
phase changes that pass through call auctions, halts and closes. Orders use every product
the instrument allows; with ``accounts_commands`` the flow also moves money, changes limits,
marks, flips kill switches, squares off and closes days.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from engine.commands import (
    AddInstrument,
    Amend,
    Cancel,
    CancelAll,
    Command,
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
from engine.instruments import InstrumentSpec
from engine.types import KillScope, OrderType, Phase, Product, Side, StpMode, TimeInForce
from tests.engine.harness import FUT, TEST

DEFAULT_SPECS = (TEST, FUT)


class Flow:
    def __init__(self, seed: int, specs: tuple[InstrumentSpec, ...] = DEFAULT_SPECS,
                 accounts: int = 6, account_commands: bool = False) -> None:
        self.rnd = random.Random(seed)
        self.account_commands = account_commands
        self.specs = specs
        self.accounts = accounts
        self.mid = [s.ref_price for s in specs]
        self.orders: list[tuple[int, int, int]] = []  # (order id, account, instrument)
        self.client_ids: list[tuple[int, str]] = []
        self.phase = [s.phase for s in specs]
        self.next_oid = 1

    def setup(self, funds: int = 0) -> list[Command]:
        """Instruments, and with ``funds`` a deposit for every account and no rate limit
        (the flow's clock runs far faster than any real client)."""
        out: list[Command] = [AddInstrument(spec) for spec in self.specs]
        if funds:
            for acct in range(self.accounts):
                out += [Deposit(acct, funds), SetLimits(acct, rate_per_s=0)]
        return out

    def commands(self, n: int, first_seq: int) -> Iterator[Command]:
        """``n`` commands, assuming the first gets sequence number ``first_seq``."""
        self.next_oid = first_seq
        for _ in range(n):
            yield self._next()
            self.next_oid += 1

    def _next(self) -> Command:
        r = self.rnd.random()
        if r < 0.62:
            return self._order()
        if r < 0.78:
            return self._cancel()
        if r < 0.90:
            return self._amend()
        if r < 0.91:
            return CancelAll(self.rnd.randrange(self.accounts),
                             self.rnd.choice([-1, 0, 1][: len(self.specs) + 1]))
        if r < 0.935:
            return self._phase()
        if self.account_commands and r < 0.96:
            return self._account_command()
        return self._order()

    def _account_command(self) -> Command:
        rnd = self.rnd
        acct = rnd.randrange(self.accounts)
        pick = rnd.random()
        if pick < 0.25:
            return Deposit(acct, rnd.choice([100_000, 200_000, 0]))
        if pick < 0.45:
            return Withdraw(acct, rnd.choice([10_000, 100_000, 190_000, 10**9]))
        if pick < 0.6:
            return SetLimits(acct, credit=rnd.choice([0, 1_000_000]),
                             max_order_value=rnd.choice([0, 0, 500_000]),
                             max_open_orders=rnd.choice([0, 0, 3]),
                             max_long=rnd.choice([0, 0, 20, 100]),
                             max_short=rnd.choice([0, 0, 10, 100]),
                             rate_per_s=rnd.choice([0, 0, 0, 5]))
        if pick < 0.85:
            return Mark()
        if pick < 0.9:
            scope = rnd.choice(list(KillScope))
            target = acct if scope == KillScope.ACCOUNT else rnd.randrange(len(self.specs))
            return KillSwitch(scope, target, on=rnd.random() < 0.2,
                              cancel_resting=rnd.random() < 0.5)
        if pick < 0.97:
            return SquareOff(rnd.choice([Product.MIS, Product.NRML, Product.CNC]),
                             rnd.choice([-1, 0]))
        return EndOfDay()

    def _price(self, instr: int, spread: int) -> int:
        spec = self.specs[instr]
        self.mid[instr] += self.rnd.choice((-1, 0, 0, 1)) * spec.tick
        self.mid[instr] = min(max(self.mid[instr], spec.band_lo + 20 * spec.tick),
                              spec.band_hi - 20 * spec.tick)
        return self.mid[instr] + self.rnd.randint(-spread, spread) * spec.tick

    def _order(self) -> NewOrder:
        rnd = self.rnd
        instr = rnd.choice([0, 0, 0, 1][: 3 + (len(self.specs) > 1)])
        spec = self.specs[instr]
        side = rnd.choice(list(Side))
        account = rnd.randrange(self.accounts)
        qty = rnd.choice([1, 1, 2, 3, 5, 8]) * spec.lot
        kind = rnd.random()
        otype, tif, price, trigger, disclosed, post = (
            OrderType.LIMIT, TimeInForce.DAY, self._price(instr, 6), 0, 0, False)
        if kind < 0.12:
            otype = OrderType.MARKET
            price = 0
        elif kind < 0.22:
            tif = rnd.choice([TimeInForce.IOC, TimeInForce.FOK])
        elif kind < 0.30:
            otype = rnd.choice([OrderType.SL, OrderType.SL_M])
            trigger = self._price(instr, 4)
            if otype == OrderType.SL:
                price = trigger + (1 if side == Side.BUY else -1) * rnd.randint(0, 2) * spec.tick
            else:
                price = 0
        elif kind < 0.36:
            qty *= 4
            disclosed = qty // 4
        elif kind < 0.40:
            post = True
        elif kind < 0.42:  # outright bad input
            price += rnd.choice([1, spec.band_hi, -spec.ref_price])
            qty += rnd.choice([0, 1, -qty])
        client_order_id = ""
        if rnd.random() < 0.3:
            if self.client_ids and rnd.random() < 0.1:
                account, client_order_id = rnd.choice(self.client_ids)
            else:
                client_order_id = f"{account}-{self.next_oid}"
                self.client_ids.append((account, client_order_id))
        self.orders.append((self.next_oid, account, instr))
        products = [*sorted(spec.products), Product.MIS]  # intraday most often
        return NewOrder(
            account=account, instrument=instr, side=side, qty=qty, price=price, type=otype,
            tif=tif, trigger=trigger, disclosed=disclosed, post_only=post,
            stp=rnd.choice(list(StpMode)), client_order_id=client_order_id,
            product=rnd.choice(products),
        )

    def _target(self) -> tuple[int, int, int] | None:
        if not self.orders:
            return None
        recent = self.orders[-200:]
        return self.rnd.choice(recent)

    def _cancel(self) -> Command:
        target = self._target()
        if target is None:
            return self._order()
        oid, account, _ = target
        if self.rnd.random() < 0.05:
            account = (account + 1) % self.accounts
        return Cancel(account, order_id=oid)

    def _amend(self) -> Command:
        target = self._target()
        if target is None:
            return self._order()
        oid, account, instr = target
        spec = self.specs[instr]
        rnd = self.rnd
        change = rnd.random()
        if change < 0.4:
            return Amend(account, order_id=oid, qty=rnd.choice([1, 2, 3, 6]) * spec.lot)
        if change < 0.8:
            return Amend(account, order_id=oid, price=self._price(instr, 6))
        if change < 0.9:
            return Amend(account, order_id=oid, trigger=self._price(instr, 4))
        return Amend(account, order_id=oid, disclosed=rnd.choice([0, spec.lot, -1]))

    def _phase(self) -> SetPhase:
        instr = self.rnd.randrange(len(self.specs))
        current = self.phase[instr]
        following = {
            Phase.CONTINUOUS: [Phase.HALTED, Phase.CLOSED, Phase.CONTINUOUS],
            Phase.HALTED: [Phase.CONTINUOUS, Phase.PRE_OPEN],
            Phase.PRE_OPEN: [Phase.CONTINUOUS],
            Phase.CLOSED: [Phase.PRE_OPEN, Phase.CONTINUOUS],
        }[current]
        target = self.rnd.choice(following)
        self.phase[instr] = target  # a rejected change leaves the guess wrong: harmless
        return SetPhase(instr, target)
