"""`FastBook`: the Python face of the numba book, with the reference book's interface.

The hot path is `process`: one kernel call for a whole batch of command rows. Instrument
definitions and reference-price changes are rare and run here in Python between batches.
When a new instrument's ladder does not fit the level capacity, the arena is rebuilt
bigger through the canonical state (the same path a snapshot restore takes).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.fastbook.arena import (
    G_LEVELS_USED,
    G_LIVE,
    G_MAXACCT,
    G_MAXINSTR,
    G_NEED,
    G_NEV,
    G_NEXT_PRIO,
    G_NEXT_TRADE,
    G_NINSTR,
    G_TL,
    I_BASE,
    I_BEST,
    I_CAPLEV,
    I_FLAGS,
    I_FREEZE,
    I_HI,
    I_LO,
    I_LOT,
    I_LTP,
    I_MHEAD,
    I_MTAIL,
    I_NLEV,
    I_PHASE,
    I_PROT,
    I_REF,
    I_STOP,
    I_TICK,
    N_CANONICAL,
    O_ANEXT,
    O_INSTR,
    O_PRIO,
    O_STATE,
    SLOTTED_WIDTH,
    accounts,
    address,
    header,
    kernel,
    new_arena,
    orders,
    round_up_block,
    views,
)
from engine.fastbook.containers import alloc, level_append, market_append, stop_append
from engine.fastbook.kernel import run
from engine.instruments import InstrumentSpec
from engine.layout import EVENT_WIDTH, ST_BOOK, ST_FREE, ST_STOP
from engine.snapshot_types import BookState

INITIAL_EVENTS = 4096


class FastBook:
    def __init__(
        self,
        max_orders: int,
        max_accounts: int,
        stp_default: int,
        max_instruments: int = 1024,
        levels: int = 65_536,
    ) -> None:
        self._shape = (max_orders, max_accounts, max_instruments, stp_default)
        self.arena = new_arena(max_orders, max_accounts, max_instruments, levels, stp_default)
        # Slotted, so that the risk pipeline learns the book's slot of each order an event
        # concerns; what `process` returns stops at EVENT_WIDTH.
        self._events = np.empty((INITIAL_EVENTS, SLOTTED_WIDTH), dtype=np.int64)
        self._specs: list[InstrumentSpec] = []

    # --- the hot path ----------------------------------------------------------------------

    def process(self, rows: np.ndarray, keep_events: bool = True) -> np.ndarray:
        """Apply a batch of command rows; the event rows it produced (a fresh array)."""
        n = self._run(rows)
        if not keep_events:
            return self._events[:0, :EVENT_WIDTH]
        return self._events[:n, :EVENT_WIDTH].copy()

    def process_into(self, rows: np.ndarray) -> tuple[np.ndarray, int]:
        """As `process`, without the copy: the events stay valid until the next call (their
        rows are SLOTTED_WIDTH wide; the event is the first EVENT_WIDTH columns)."""
        n = self._run(rows)
        return self._events, n

    def process_with(self, loop: Callable[..., int], side: np.ndarray, rows: np.ndarray,
                     keep_events: bool = True) -> np.ndarray:
        """As `process`, through another kernel loop that takes the book's arena, ``side``
        (another arena) and the rows, such as the risk pipeline."""
        n = self._run(rows, loop, side)
        if not keep_events:
            return self._events[:0, :EVENT_WIDTH]
        return self._events[:n, :EVENT_WIDTH].copy()

    def _run(self, rows: np.ndarray, loop: Callable[..., int] | None = None,
             side: np.ndarray | None = None) -> int:
        arena = self.arena
        arena[G_NEV] = 0

        def call(part: np.ndarray) -> int:
            if loop is None:
                return run(arena, part, self._events)
            return loop(arena, side, part, self._events)

        done = call(rows)
        while done < len(rows):  # the next command might not fit: grow, then go on
            self._grow_events(int(arena[G_NEED]))
            done += call(rows[done:])
        return int(arena[G_NEV])

    def _grow_events(self, need: int) -> None:
        used = int(self.arena[G_NEV])
        bigger = np.empty((max(2 * len(self._events), used + need), SLOTTED_WIDTH),
                          dtype=np.int64)
        bigger[:used] = self._events[:used]
        self._events = bigger

    # --- instruments ---------------------------------------------------------------------

    def add_instrument(self, spec: InstrumentSpec) -> None:
        if self.arena[G_NINSTR] >= self.arena[G_MAXINSTR]:
            raise OverflowError("instrument capacity reached")
        base = self._reserve_ladder(spec.levels)
        g, ins = views(self.arena)[:2]
        instr = int(g[G_NINSTR])
        row = ins[instr]
        row[:] = 0
        row[I_BASE], row[I_CAPLEV] = base, spec.levels
        row[I_BEST + 0] = row[I_BEST + 1] = -1
        row[I_STOP + 0] = row[I_STOP + 1] = -1
        row[I_MHEAD + 0] = row[I_MHEAD + 1] = -1
        row[I_MTAIL + 0] = row[I_MTAIL + 1] = -1
        row[I_PHASE] = int(spec.phase)
        self._set_terms(instr, spec)
        g[G_NINSTR] = instr + 1
        self._specs.append(spec)

    def rebase(self, instr: int, spec: InstrumentSpec) -> None:
        """New reference price and band for an instrument that is closed with no orders."""
        ins = views(self.arena)[1]
        if spec.levels > ins[instr, I_CAPLEV]:
            ins[instr, I_BASE] = self._reserve_ladder(spec.levels)
            ins = views(self.arena)[1]
            ins[instr, I_CAPLEV] = spec.levels
        ins[instr, I_LTP] = 0
        self._set_terms(instr, spec)
        self._specs[instr] = spec

    def _set_terms(self, instr: int, spec: InstrumentSpec) -> None:
        row = views(self.arena)[1][instr]
        row[I_TICK], row[I_LOT], row[I_FREEZE] = spec.tick, spec.lot, spec.freeze_qty
        row[I_LO], row[I_HI], row[I_REF] = spec.band_lo, spec.band_hi, spec.ref_price
        row[I_NLEV], row[I_PROT], row[I_FLAGS] = spec.levels, spec.protection_bps, spec.flags

    def _reserve_ladder(self, levels: int) -> int:
        """Base index of a fresh ladder of ``levels`` levels, growing the arena if needed."""
        g = self.arena[: G_LEVELS_USED + 1]
        base = int(g[G_LEVELS_USED])
        needed = round_up_block(base + levels)
        if needed > g[G_TL]:
            self._regrow(max(needed, 2 * int(g[G_TL])))
            g = self.arena[: G_LEVELS_USED + 1]
        g[G_LEVELS_USED] = round_up_block(base + levels)
        return base

    def _regrow(self, total_levels: int) -> None:
        state = self.state()
        old_ins = views(self.arena)[1].copy()
        used = int(self.arena[G_LEVELS_USED])
        max_orders, max_accounts, max_instruments, stp = self._shape
        self.arena = new_arena(max_orders, max_accounts, max_instruments, total_levels, stp)
        g = self.arena
        g[G_NINSTR] = len(self._specs)
        g[G_LEVELS_USED] = used
        ins = views(self.arena)[1]
        ins[:] = old_ins
        # Container heads and best levels are rebuilt as the orders are loaded back.
        for column in (I_BEST, I_STOP, I_MHEAD, I_MTAIL):
            ins[:, column : column + 2] = -1
        self.load(state)

    # --- queries -----------------------------------------------------------------------------

    def has_orders(self, instr: int) -> bool:
        ords = views(self.arena)[3]
        live = ords[:, O_STATE] != ST_FREE
        return bool(np.any(ords[live, O_INSTR] == instr))

    def phase(self, instr: int) -> int:
        return int(views(self.arena)[1][instr, I_PHASE])

    def last_prices(self) -> list[int]:
        """Every instrument's last traded price, by instrument id."""
        g, ins = views(self.arena)[:2]
        return ins[: int(g[G_NINSTR]), I_LTP].tolist()

    def touch(self, instr: int) -> tuple[int, int]:
        """(best bid, best ask) prices of an instrument, 0 for an empty side."""
        ins = views(self.arena)[1]
        lo, tick = int(ins[instr, I_LO]), int(ins[instr, I_TICK])
        bid, ask = int(ins[instr, I_BEST]), int(ins[instr, I_BEST + 1])
        return (lo + bid * tick if bid >= 0 else 0, lo + ask * tick if ask >= 0 else 0)

    @property
    def live_orders(self) -> int:
        return int(self.arena[G_LIVE])

    # --- canonical state -------------------------------------------------------------------

    def state(self) -> BookState:
        g, ins, _, ords, *_ = views(self.arena)
        live = ords[_live_slots(self.arena), :N_CANONICAL]
        live = live[np.argsort(live[:, O_PRIO], kind="stable")]
        n = int(g[G_NINSTR])
        return BookState(
            orders=np.ascontiguousarray(live),
            instruments=np.ascontiguousarray(ins[:n][:, [I_PHASE, I_LTP]]),
            next_trade_id=int(g[G_NEXT_TRADE]),
            next_prio=int(g[G_NEXT_PRIO]),
        )

    def load(self, state: BookState) -> None:
        """Restore a canonical state into this book (its instruments already added, empty)."""
        g, ins, *_ = views(self.arena)
        n = state.instruments.shape[0]
        ins[:n, I_PHASE] = state.instruments[:, 0]
        ins[:n, I_LTP] = state.instruments[:, 1]
        g[G_NEXT_TRADE], g[G_NEXT_PRIO] = state.next_trade_id, state.next_prio
        by_oid = np.argsort(state.orders[:, 0], kind="stable") if len(state.orders) else None
        _restore(self.arena, np.ascontiguousarray(state.orders),
                 by_oid if by_oid is not None else np.zeros(0, dtype=np.int64))


@kernel
def _live_slots(arena):
    """The slots of the live orders, account by account: their lists hold exactly the live
    orders, so this reads those orders and the list heads, not every slot of the table
    (whose state column alone spans a cache line per slot: 3 ms at the default capacity)."""
    st = address(arena)
    g, ords, accts = header(st), orders(st), accounts(st)
    out = np.empty(g[G_LIVE], dtype=np.int64)
    n = 0
    for acct in range(g[G_MAXACCT]):
        s = accts[acct, 0]
        while s != -1 and n < out.shape[0]:  # never past the buffer, even if lists were bad
            out[n] = s
            n += 1
            s = ords[s, O_ANEXT]
    return out[:n]


@kernel
def _restore(arena, rows, by_oid):
    """Re-create orders given in ascending priority; account lists in ascending order id."""
    st = address(arena)
    ords = orders(st)
    slots = np.empty(rows.shape[0], dtype=np.int64)
    for k in by_oid:  # allocation appends to the account list, so go in order-id order
        slots[k] = alloc(st, rows[k, 0], rows[k, 1])
    for k in range(rows.shape[0]):  # containers are filled in priority (FIFO) order
        s = slots[k]
        for f in range(rows.shape[1]):
            ords[s, f] = rows[k, f]
        state = rows[k, O_STATE]
        if state == ST_BOOK:
            level_append(st, s)
        elif state == ST_STOP:
            stop_append(st, s)
        else:
            market_append(st, s)
