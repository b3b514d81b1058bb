"""A market simulator: market makers quoting around a random-walk fair value, and takers
crossing their spread, as ordinary accounts sending ordinary orders.

`MarketSimulator` is deterministic and takes time as data: given a seed and the times it is
asked at, it yields the same commands. `run_simulator` is its I/O edge: it submits those
commands to a node, so they are sequenced, risk-checked, matched and journaled like any
trader's, and the market data they cause streams to every subscriber.

Each instrument has a fair value that moves by a mean-reverting geometric random walk,
kept well inside the price band. Each maker, on its own schedule per instrument, cancels its
quotes there and places ``levels`` bids and asks around the fair value (one command batch,
so the book never shows a half-replaced ladder for longer than a batch). Takers arrive as a
Poisson process per instrument and buy or sell a few lots with an IOC limit across the
spread or a market order.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.commands import CancelAll, Command, NewOrder, SetLimits
from engine.instruments import InstrumentSpec
from engine.types import OrderType, Phase, Product, Side, TimeInForce

if TYPE_CHECKING:
    from gridworks.node import Node

log = logging.getLogger(__name__)

SECOND_NS = 1_000_000_000
MAX_LAG_NS = SECOND_NS // 2  # later than this, an action is skipped, not caught up
MAKERS = ("sim-maker-1", "sim-maker-2")
TAKERS = ("sim-taker-1", "sim-taker-2", "sim-taker-3")
SIM_FUNDS = 1_000_00_00_000 * 100  # a thousand crore rupees each, in paise


@dataclass(frozen=True)
class SimConfig:
    seed: int = 7
    speed: float = 1.0  # multiplies every rate below
    quotes_per_s: float = 2.0  # requotes per maker and instrument
    takers_per_s: float = 1.0  # taker orders per instrument
    levels: int = 5  # quotes per side per maker
    volatility_bp: float = 3.0  # standard deviation of the fair value per requote, in bp
    half_spread_bp: float = 2.0  # from fair value to the best quote, at least one tick
    reversion: float = 0.01  # pull of the fair value back towards the reference price
    max_lots: int = 10  # per quote; takers trade up to a third of this


@dataclass(frozen=True)
class SimAccounts:
    makers: tuple[int, ...]
    takers: tuple[int, ...]


class MarketSimulator:
    def __init__(self, specs: Sequence[InstrumentSpec], accounts: SimAccounts,
                 config: SimConfig, start_ns: int) -> None:
        self.specs = list(specs)
        self.accounts = accounts
        self.config = config
        self.rng = random.Random(config.seed)
        self.fair = [float(s.ref_price) for s in self.specs]
        # (when, sequence, kind, instrument, maker index); sequence breaks ties stably
        self._agenda: list[tuple[int, int, str, int, int]] = []
        self._sequence = 0
        for instr in range(len(self.specs)):
            for maker in range(len(accounts.makers)):
                self._schedule(start_ns + self._gap(self._quote_rate()), "quote", instr, maker)
            self._schedule(start_ns + self._gap(self._taker_rate()), "take", instr, 0)

    # --- the schedule ---------------------------------------------------------------------------

    def next_due(self) -> int:
        """When the earliest scheduled action is due (ns)."""
        return self._agenda[0][0]

    def due(self, now_ns: int, tradable: Sequence[bool]) -> list[Command]:
        """The commands of every action due by ``now_ns``, in time order; instruments that are
        not ``tradable`` (not in continuous trading) are skipped but stay scheduled. Actions
        more than ``MAX_LAG_NS`` late are dropped and rescheduled from now: a simulator that
        falls behind a busy server thins out instead of sending an ever larger backlog."""
        commands: list[Command] = []
        while self._agenda and self._agenda[0][0] <= now_ns:
            when, _, kind, instr, maker = heapq.heappop(self._agenda)
            late = now_ns - when > MAX_LAG_NS
            rate = self._quote_rate() if kind == "quote" else self._taker_rate()
            self._schedule((now_ns if late else when) + self._gap(rate), kind, instr, maker)
            if kind == "quote":
                self._walk(instr)
                if tradable[instr] and not late:
                    commands += self.quotes(instr, maker)
            elif tradable[instr] and not late:
                commands.append(self.taker_order(instr))
        return commands

    def _schedule(self, when: int, kind: str, instr: int, maker: int) -> None:
        self._sequence += 1
        heapq.heappush(self._agenda, (when, self._sequence, kind, instr, maker))

    def _gap(self, rate: float) -> int:
        return max(1, int(self.rng.expovariate(rate) * SECOND_NS))

    def _quote_rate(self) -> float:
        return self.config.quotes_per_s * self.config.speed

    def _taker_rate(self) -> float:
        return self.config.takers_per_s * self.config.speed

    # --- prices ---------------------------------------------------------------------------------

    def _walk(self, instr: int) -> None:
        spec, cfg = self.specs[instr], self.config
        fair = self.fair[instr]
        fair *= math.exp(self.rng.gauss(0.0, cfg.volatility_bp / 10_000))
        fair += cfg.reversion * (spec.ref_price - fair)
        inner = (spec.band_hi - spec.band_lo) * 0.3  # stay in the middle of the band
        self.fair[instr] = min(max(fair, spec.ref_price - inner), spec.ref_price + inner)

    def _ladder(self, instr: int) -> tuple[list[int], list[int]]:
        spec, cfg = self.specs[instr], self.config
        tick, fair = spec.tick, self.fair[instr]
        half = max(tick, fair * cfg.half_spread_bp / 10_000)
        step = tick * max(1, round(fair / 10_000 / tick))  # about a basis point apart
        best_bid = math.floor((fair - half) / tick) * tick
        best_ask = math.ceil((fair + half) / tick) * tick
        bids = [p for k in range(cfg.levels) if (p := best_bid - k * step) >= spec.band_lo]
        asks = [p for k in range(cfg.levels) if (p := best_ask + k * step) <= spec.band_hi]
        return bids, asks

    def _lots(self, instr: int, most: int) -> int:
        spec = self.specs[instr]
        lots = self.rng.randint(1, max(1, most))
        if spec.freeze_qty:
            lots = min(lots, spec.freeze_qty // spec.lot)
        return lots * spec.lot

    def _product(self, instr: int) -> Product:
        products = self.specs[instr].products
        return Product.NRML if Product.NRML in products else Product.MIS

    # --- orders ---------------------------------------------------------------------------------

    def quotes(self, instr: int, maker: int) -> list[Command]:
        """A maker's fresh ladder on one instrument, replacing its previous one."""
        account = self.accounts.makers[maker]
        product = self._product(instr)
        bids, asks = self._ladder(instr)
        commands: list[Command] = [CancelAll(account, instr)]
        for side, prices in ((Side.BUY, bids), (Side.SELL, asks)):
            for price in prices:
                commands.append(NewOrder(account, instr, side, self._lots(instr, self.config
                                                                           .max_lots),
                                         price=price, product=product))
        return commands

    def taker_order(self, instr: int) -> Command:
        """Someone who wants to trade now: an IOC limit a little through the spread, or a
        market order."""
        spec = self.specs[instr]
        account = self.rng.choice(self.accounts.takers)
        side = self.rng.choice((Side.BUY, Side.SELL))
        qty = self._lots(instr, max(1, self.config.max_lots // 3))
        product = self._product(instr)
        if self.rng.random() < 0.2:
            return NewOrder(account, instr, side, qty, type=OrderType.MARKET,
                            tif=TimeInForce.IOC, product=product)
        bids, asks = self._ladder(instr)
        through = (asks[min(1, len(asks) - 1)] if side == Side.BUY and asks else
                   bids[min(1, len(bids) - 1)] if bids else spec.ref_price)
        return NewOrder(account, instr, side, qty, price=through, tif=TimeInForce.IOC,
                        product=product)


# --- the I/O edge --------------------------------------------------------------------------------

def account_setup(account: int) -> list[Command]:
    """What a simulated account needs besides money: no order-rate throttle."""
    return [SetLimits(account, rate_per_s=0)]


async def simulator_accounts(node: Node) -> SimAccounts:
    """The simulator's accounts, created and funded on the first simulated start."""
    from gridworks.admin import Admin

    assert node.core is not None
    admin = Admin(node, node.kek)
    ids: dict[str, int] = {}
    for name in MAKERS + TAKERS:
        record = node.core.registry.account_named(name)
        if record is None:
            account, _ = await admin.create_account(name, SIM_FUNDS, scopes=0)
            await node.submit(account_setup(account))
        else:
            account = record.account
        ids[name] = account
    return SimAccounts(tuple(ids[n] for n in MAKERS), tuple(ids[n] for n in TAKERS))


async def run_simulator(node: Node, config: SimConfig) -> None:
    """Drive the market until cancelled: each wake-up submits what is due and waits for it
    to be durable, so a slow disk slows the simulator rather than queueing without end."""
    accounts = await simulator_accounts(node)
    assert node.core is not None
    core = node.core
    sim = MarketSimulator(core.specs, accounts, config, time.time_ns())
    while True:
        delay = (sim.next_due() - time.time_ns()) / SECOND_NS
        if delay > 0:
            await asyncio.sleep(delay)
        tradable = [core.book.phase(i) == Phase.CONTINUOUS for i in range(len(core.specs))]
        commands = sim.due(time.time_ns(), tradable)
        if commands:
            await node.submit(commands)
