"""The reference book: slow, plain Python, written to be obviously right.

It is the oracle the fast numba book is tested against, event for event, and it is the
executable statement of the matching rules:

* Price-time priority; a trade prints at the resting order's price.
* A market order is an immediate order limited at its protection price (last price moved by
  the instrument's protection, clamped to the band); its unfilled part expires.
* IOC remainders expire; FOK either fills completely on arrival or expires untouched;
  post-only orders that would trade are rejected.
* Disclosed quantity: only the disclosed part is visible and matchable at a time; when it is
  used up the next part is shown and the order goes to the back of its level.
* Amend: a pure quantity reduction keeps the order's place; anything else sends it to the
  back (and may make it trade).
* Self-trade prevention by the incoming order's mode: cancel the resting order and go on,
  cancel the incoming remainder, or both.
* Stops wait in a stop book and fire on the last traded price (buys when it rises to the
  trigger, sells when it falls to it), lowest buy trigger first then highest sell trigger,
  one at a time, each fully processed before the next check.
* A trade at the band edge of an instrument with halt-on-band halts it after the order.
* Leaving the pre-open call auction (or a halt) uncrosses the book at the price that
  maximises executable quantity, then minimises imbalance, then is closest to the reference.
  Limit orders are allocated before market orders on each side, by price then time;
  unfilled market orders become limit orders at the auction price and keep their time.
* Entering CLOSED expires every order of the instrument.

Every container below is ordered: levels are FIFO lists, accounts' orders are dicts in
acceptance order, so iteration order, and therefore event order, is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from engine import pricing, rules
from engine.codes import RejectCode
from engine.instruments import InstrumentSpec
from engine.layout import (
    AUCTION_SIDE,
    BUY,
    C_ACCT,
    C_DISCLOSED,
    C_FLAGS,
    C_INSTR,
    C_KIND,
    C_OID,
    C_PHASE,
    C_PRECHECK,
    C_PRICE,
    C_PRODUCT,
    C_QTY,
    C_SEQ,
    C_SIDE,
    C_STP,
    C_TIF,
    C_TRIGGER,
    C_TS,
    C_TYPE,
    CLOSED,
    CONTINUOUS,
    DAY,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_AUCTION,
    EV_BOOK_CHANGED,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_PHASE_CHANGED,
    EV_REJECTED,
    EV_RESTATED,
    EV_TRADED,
    EV_TRIGGERED,
    EVENT_WIDTH,
    F_POST_ONLY,
    FOK,
    HALTED,
    IF_HALT_ON_BAND,
    K_AMEND,
    K_CANCEL,
    K_CANCEL_ALL,
    K_NEW_ORDER,
    K_SET_PHASE,
    LIMIT,
    MARKET,
    PRE_OPEN,
    PRECHECK_PASSED,
    R_AUCTION_MARKET_TO_LIMIT,
    R_BAND_HIT,
    R_CANCEL_ALL,
    R_END_OF_DAY,
    R_FOK_UNFILLED,
    R_IOC_REMAINDER,
    R_MARKET_REMAINDER,
    R_PHASE_COMMAND,
    R_STP_INCOMING,
    R_STP_RESTING,
    R_USER,
    SELL,
    SL,
    SL_M,
    ST_BOOK,
    ST_FREE,
    ST_MARKET_QUEUE,
    ST_STOP,
    STP_CANCEL_INCOMING,
    STP_CANCEL_RESTING,
)
from engine.snapshot_types import ORDER_FIELDS, BookState
from engine.transitions import PHASE_TRANSITIONS

OK = int(RejectCode.OK)


@dataclass(slots=True, eq=False)
class Order:
    oid: int
    acct: int
    instr: int
    side: int
    type: int
    tif: int
    flags: int
    stp: int
    price: int
    trigger: int
    qty: int
    leaves: int
    visible: int
    disclosed: int
    filled: int
    state: int
    prio: int
    ts: int


@dataclass(slots=True, eq=False)
class Instrument:
    id: int
    tick: int
    lot: int
    freeze: int
    lo: int
    hi: int
    ref: int
    protection_bps: int
    flags: int
    phase: int
    ltp: int = 0
    halt_pending: bool = False
    book: tuple[dict[int, list[Order]], dict[int, list[Order]]] = field(
        default_factory=lambda: ({}, {})
    )
    stops: tuple[dict[int, list[Order]], dict[int, list[Order]]] = field(
        default_factory=lambda: ({}, {})
    )
    market: tuple[list[Order], list[Order]] = field(default_factory=lambda: ([], []))

    @property
    def last(self) -> int:
        return self.ltp if self.ltp > 0 else self.ref

    def levels(self) -> int:
        return (self.hi - self.lo) // self.tick + 1


class ReferenceBook:
    """Same interface as the fast book: ``process(rows) -> event rows``."""

    def __init__(self, max_orders: int, max_accounts: int, stp_default: int) -> None:
        self.max_orders = max_orders
        self.max_accounts = max_accounts
        self.stp_default = stp_default
        self.instruments: list[Instrument] = []
        self.orders: dict[int, Order] = {}
        self.by_account: dict[int, dict[int, Order]] = {}
        self.next_trade_id = 1
        self.next_prio = 1
        self._out: list[list[int]] = []
        self._touched: dict[tuple[int, int, int], None] = {}
        self._seq = 0
        self._ts = 0

    # --- instruments (driven by the core, between kernel batches) --------------------------

    def add_instrument(self, spec: InstrumentSpec) -> None:
        self.instruments.append(
            Instrument(
                id=len(self.instruments), tick=spec.tick, lot=spec.lot,
                freeze=spec.freeze_qty, lo=spec.band_lo, hi=spec.band_hi, ref=spec.ref_price,
                protection_bps=spec.protection_bps, flags=spec.flags, phase=int(spec.phase),
            )
        )

    def rebase(self, instr: int, spec: InstrumentSpec) -> None:
        inst = self.instruments[instr]
        inst.ref, inst.lo, inst.hi, inst.ltp = spec.ref_price, spec.band_lo, spec.band_hi, 0

    def has_orders(self, instr: int) -> bool:
        return any(o.instr == instr for o in self.orders.values())

    def phase(self, instr: int) -> int:
        return self.instruments[instr].phase

    def last_prices(self) -> list[int]:
        """Every instrument's last traded price, by instrument id."""
        return [i.ltp for i in self.instruments]

    # --- the batch entry point ------------------------------------------------------------

    def process(self, rows: np.ndarray, keep_events: bool = True) -> np.ndarray:
        self._out = []
        for row in rows.tolist():
            self._command(row)
        if not self._out:
            return np.zeros((0, EVENT_WIDTH), dtype=np.int64)
        return np.array(self._out, dtype=np.int64)

    def _command(self, r: list[int]) -> None:
        self._seq, self._ts = r[C_SEQ], r[C_TS]
        self._touched = {}
        kind = r[C_KIND]
        if kind == K_NEW_ORDER:
            self._new_order(r)
        elif kind == K_CANCEL:
            self._cancel(r)
        elif kind == K_AMEND:
            self._amend(r)
        elif kind == K_CANCEL_ALL:
            self._cancel_all(r)
        elif kind == K_SET_PHASE:
            self._set_phase(r)
        else:
            self._reject(r, RejectCode.UNKNOWN_COMMAND)
        self._emit_book_changes()

    # --- commands ------------------------------------------------------------------------

    def new_order_code(self, r: list[int]) -> int:
        """Every check of a new order, in order; OK or the code it would be rejected with."""
        code = r[C_PRECHECK]
        instr, acct = r[C_INSTR], r[C_ACCT]
        if code == PRECHECK_PASSED:
            return OK
        if code != OK:
            return code
        if not 0 <= instr < len(self.instruments):
            return RejectCode.UNKNOWN_INSTRUMENT
        if not 0 <= acct < self.max_accounts:
            return RejectCode.ACCOUNT_INVALID
        inst = self.instruments[instr]
        code = rules.validate_new_order(
            r[C_SIDE], r[C_TYPE], r[C_TIF], r[C_FLAGS], r[C_STP], r[C_PRODUCT], r[C_PRICE],
            r[C_QTY], r[C_TRIGGER], r[C_DISCLOSED], inst.phase, inst.tick, inst.lot,
            inst.freeze, inst.lo, inst.hi, inst.flags, inst.last,
        )
        if code != OK:
            return code
        if len(self.orders) >= self.max_orders:
            return RejectCode.CAPACITY_ORDERS
        post_only = r[C_FLAGS] & F_POST_ONLY
        if post_only and self._crosses(inst, r[C_SIDE], r[C_PRICE]):
            return RejectCode.POST_ONLY_WOULD_TRADE
        return OK

    def _new_order(self, r: list[int]) -> None:
        code = self.new_order_code(r)
        if code != OK:
            self._reject(r, code)
            return
        instr, acct = r[C_INSTR], r[C_ACCT]
        inst = self.instruments[instr]
        o = Order(
            oid=r[C_OID], acct=acct, instr=instr, side=r[C_SIDE], type=r[C_TYPE], tif=r[C_TIF],
            flags=r[C_FLAGS], stp=r[C_STP] or self.stp_default, price=r[C_PRICE],
            trigger=r[C_TRIGGER], qty=r[C_QTY], leaves=r[C_QTY], visible=0,
            disclosed=r[C_DISCLOSED], filled=0, state=ST_FREE, prio=0, ts=self._ts,
        )
        protection = 0
        if o.type == MARKET and inst.phase == CONTINUOUS:
            protection = self._protection(inst, o.side)
        self._emit(
            EV_ACCEPTED, instr, o.oid, acct, o.side, o.price, o.qty,
            o.type, o.tif, o.trigger, o.disclosed, o.flags | (r[C_PRODUCT] << 8), protection,
            o.stp,
        )
        self.orders[o.oid] = o
        self.by_account.setdefault(acct, {})[o.oid] = o
        if inst.phase == PRE_OPEN:
            if o.type == MARKET:
                self._enqueue_market(inst, o)
            else:
                self._rest(inst, o)
        elif o.type in (SL, SL_M):
            self._rest_stop(inst, o)
        else:
            self._execute(inst, o, protection if o.type == MARKET else o.price)
            self._settle(inst)

    def _cancel(self, r: list[int]) -> None:
        o = self.orders.get(r[C_OID])
        if o is None or o.acct != r[C_ACCT]:
            self._reject(r, RejectCode.ORDER_NOT_FOUND)
            return
        self._remove(self.instruments[o.instr], o)
        # The core's own cancels (kill switch, square-off) carry their reason in TYPE.
        self._finish(o, EV_CANCELLED, r[C_TYPE] or R_USER)

    def amend_code(self, r: list[int]) -> int:
        """Every check of an amendment, in order; OK or the code it would be rejected with."""
        if r[C_PRECHECK] == PRECHECK_PASSED:
            return OK
        if r[C_PRECHECK] != OK:  # found by the core before the book (pre-trade risk)
            return r[C_PRECHECK]
        o = self.orders.get(r[C_OID])
        if o is None or o.acct != r[C_ACCT]:
            return RejectCode.ORDER_NOT_FOUND
        inst = self.instruments[o.instr]
        code = rules.validate_amend(
            o.state, o.side, o.type, o.price, o.qty, o.filled, o.trigger, o.disclosed,
            r[C_PRICE], r[C_QTY], r[C_TRIGGER], r[C_DISCLOSED], inst.phase, inst.tick,
            inst.lot, inst.freeze, inst.lo, inst.hi, inst.flags, inst.last,
        )
        post_only = o.flags & F_POST_ONLY and inst.phase == CONTINUOUS and r[C_PRICE]
        if code == OK and post_only and self._crosses(inst, o.side, r[C_PRICE]):
            code = RejectCode.POST_ONLY_WOULD_TRADE
        return code

    def _amend(self, r: list[int]) -> None:
        code = self.amend_code(r)
        if code != OK:
            self._reject(r, code)
            return
        o = self.orders[r[C_OID]]
        inst = self.instruments[o.instr]
        new_price, new_qty, new_trigger, new_disclosed = (
            r[C_PRICE], r[C_QTY], r[C_TRIGGER], r[C_DISCLOSED]
        )
        price = new_price or o.price
        qty = new_qty or o.qty
        trigger = new_trigger or o.trigger
        disclosed = o.disclosed if new_disclosed == rules.KEEP_DISCLOSED else new_disclosed
        keep = rules.keeps_priority(
            o.price, o.qty, o.trigger, o.disclosed, price, qty, trigger, disclosed
        )
        if keep:
            o.leaves -= o.qty - qty
            o.qty = qty
            if o.state == ST_BOOK:
                o.visible = min(o.visible, o.leaves)
                self._touch(o.instr, o.side, o.price)
            self._emit(
                EV_AMENDED, o.instr, o.oid, o.acct, o.side, o.price, o.qty, o.leaves, 1,
                o.trigger, o.disclosed,
            )
            return
        state = o.state
        self._remove(inst, o)
        o.leaves += qty - o.qty
        o.price, o.qty, o.trigger, o.disclosed = price, qty, trigger, disclosed
        self._emit(
            EV_AMENDED, o.instr, o.oid, o.acct, o.side, o.price, o.qty, o.leaves, 0,
            o.trigger, o.disclosed,
        )
        if state == ST_STOP:
            self._rest_stop(inst, o)
        elif state == ST_MARKET_QUEUE:
            self._enqueue_market(inst, o)
        elif inst.phase == CONTINUOUS:
            self._execute(inst, o, o.price)
            self._settle(inst)
        else:
            self._rest(inst, o)

    def _cancel_all(self, r: list[int]) -> None:
        acct, instr = r[C_ACCT], r[C_INSTR]
        if not 0 <= acct < self.max_accounts:
            self._reject(r, RejectCode.ACCOUNT_INVALID)
            return
        if instr != -1 and not 0 <= instr < len(self.instruments):
            self._reject(r, RejectCode.UNKNOWN_INSTRUMENT)
            return
        for o in list(self.by_account.get(acct, {}).values()):
            if instr in (-1, o.instr):
                self._remove(self.instruments[o.instr], o)
                self._finish(o, EV_CANCELLED, R_CANCEL_ALL)

    def _set_phase(self, r: list[int]) -> None:
        instr, target = r[C_INSTR], r[C_PHASE]
        if not 0 <= instr < len(self.instruments):
            self._reject(r, RejectCode.UNKNOWN_INSTRUMENT)
            return
        inst = self.instruments[instr]
        old = inst.phase
        if (old, target) not in PHASE_TRANSITIONS:
            self._reject(r, RejectCode.INVALID_PHASE_TRANSITION)
            return
        if target == CLOSED:
            self._expire_all(instr, inst)
        elif target == CONTINUOUS and old in (PRE_OPEN, HALTED):
            self._uncross(instr, inst)
        inst.phase = target
        self._emit(EV_PHASE_CHANGED, instr, 0, 0, 0, 0, 0, target, old, R_PHASE_COMMAND)
        if target == CONTINUOUS:
            self._settle(inst)

    # --- matching ------------------------------------------------------------------------

    def _execute(self, inst: Instrument, o: Order, limit: int) -> None:
        """Match an incoming (or re-priced, or triggered) order, then rest or end it."""
        if o.tif == FOK and not self._fok_fillable(inst, o, limit):
            self._finish(o, EV_EXPIRED, R_FOK_UNFILLED)
            return
        stp_stopped = self._match(inst, o, limit)
        if stp_stopped:
            self._finish(o, EV_CANCELLED, R_STP_INCOMING)
        elif o.leaves == 0:
            self._forget(o)
        elif o.type in (MARKET, SL_M):
            self._finish(o, EV_EXPIRED, R_MARKET_REMAINDER)
        elif o.tif != DAY:
            self._finish(o, EV_EXPIRED, R_IOC_REMAINDER)
        else:
            self._rest(inst, o)

    def _match(self, inst: Instrument, o: Order, limit: int) -> bool:
        """Trade ``o`` against the opposite side; True if self-trade prevention stopped it."""
        opp = 1 - o.side
        while o.leaves > 0:
            best = self._best(inst, opp)
            if best is None or (best > limit if o.side == BUY else best < limit):
                return False
            resting = inst.book[opp][best][0]
            if resting.acct == o.acct:
                if o.stp == STP_CANCEL_INCOMING:
                    return True
                self._remove(inst, resting)
                self._finish(resting, EV_CANCELLED, R_STP_RESTING)
                if o.stp != STP_CANCEL_RESTING:
                    return True
                continue
            self._trade(inst, o, resting, best, min(o.leaves, resting.visible))
        return False

    def _trade(self, inst: Instrument, o: Order, resting: Order, price: int, qty: int) -> None:
        self._touch(resting.instr, resting.side, price)
        resting.visible -= qty
        resting.leaves -= qty
        resting.filled += qty
        o.leaves -= qty
        o.filled += qty
        buy, sell = (o, resting) if o.side == BUY else (resting, o)
        self._emit_trade(o.instr, o.side, price, qty, buy, sell)
        inst.ltp = price
        if inst.flags & IF_HALT_ON_BAND and price in (inst.lo, inst.hi):
            inst.halt_pending = True
        level = inst.book[resting.side][price]
        if resting.leaves == 0:
            level.pop(0)
            if not level:
                del inst.book[resting.side][price]
            self._forget(resting)
        elif resting.visible == 0:
            level.pop(0)
            resting.visible = min(resting.disclosed, resting.leaves)
            resting.prio = self._take_prio()
            level.append(resting)

    def _fok_fillable(self, inst: Instrument, o: Order, limit: int) -> bool:
        """Simulate the match, refills and self-trade prevention included, without changing
        anything: can ``o`` fill completely right now?"""
        opp = 1 - o.side
        need = o.leaves
        prices = sorted(inst.book[opp], reverse=(opp == BUY))
        for price in prices:
            if price > limit if o.side == BUY else price < limit:
                break
            queue = [[r.acct, r.visible, r.leaves - r.visible, r.disclosed]
                     for r in inst.book[opp][price]]
            while queue:
                acct, visible, hidden, disclosed = queue.pop(0)
                if acct == o.acct:
                    if o.stp == STP_CANCEL_RESTING:
                        continue
                    return False
                take = min(need, visible)
                need -= take
                if need == 0:
                    return True
                if hidden > 0:
                    shown = min(disclosed, hidden)
                    queue.append([acct, shown, hidden - shown, disclosed])
        return False

    # --- stops and halts -------------------------------------------------------------------

    def _settle(self, inst: Instrument) -> None:
        """After trading: halt on a band hit, otherwise fire stops until none is due."""
        while True:
            if inst.halt_pending:
                inst.halt_pending = False
                if inst.phase == CONTINUOUS:
                    inst.phase = HALTED
                    self._emit(EV_PHASE_CHANGED, inst.id, 0, 0, 0, 0, 0, HALTED, CONTINUOUS,
                               R_BAND_HIT)
                return
            if inst.phase != CONTINUOUS or inst.ltp == 0:
                return
            o = self._due_stop(inst)
            if o is None:
                return
            self._remove(inst, o)
            limit = o.price if o.type == SL else self._protection(inst, o.side)
            self._emit(EV_TRIGGERED, o.instr, o.oid, o.acct, o.side, limit, o.leaves,
                       o.trigger, o.type)
            o.state = ST_FREE
            self._execute(inst, o, limit)

    def _due_stop(self, inst: Instrument) -> Order | None:
        buys = [t for t in inst.stops[BUY] if t <= inst.ltp]
        if buys:
            return inst.stops[BUY][min(buys)][0]
        sells = [t for t in inst.stops[SELL] if t >= inst.ltp]
        if sells:
            return inst.stops[SELL][max(sells)][0]
        return None

    # --- the call auction -------------------------------------------------------------------

    def _uncross(self, instr: int, inst: Instrument) -> None:
        n = inst.levels()
        at_or_above = [0] * (n + 1)  # buy quantity willing to pay at least each level
        at_or_below = [0] * (n + 1)
        for price, level in inst.book[BUY].items():
            at_or_above[(price - inst.lo) // inst.tick] += sum(o.leaves for o in level)
        for price, level in inst.book[SELL].items():
            at_or_below[(price - inst.lo) // inst.tick] += sum(o.leaves for o in level)
        for i in range(n - 1, -1, -1):
            at_or_above[i] += at_or_above[i + 1]
        for i in range(1, n):
            at_or_below[i] += at_or_below[i - 1]
        market_buy = sum(o.leaves for o in inst.market[BUY])
        market_sell = sum(o.leaves for o in inst.market[SELL])
        best_key: tuple[int, int, int, int] | None = None
        price = 0
        imbalance = 0
        for i in range(n):
            p = inst.lo + i * inst.tick
            buy_qty = at_or_above[i] + market_buy
            sell_qty = at_or_below[i] + market_sell
            key = (-min(buy_qty, sell_qty), abs(buy_qty - sell_qty), abs(p - inst.ref), p)
            if best_key is None or key < best_key:
                best_key, price, imbalance = key, p, buy_qty - sell_qty
        volume = -best_key[0] if best_key else 0
        if volume == 0:
            price = imbalance = 0
        else:
            buys = [o for p in sorted(inst.book[BUY], reverse=True) if p >= price
                    for o in inst.book[BUY][p]] + list(inst.market[BUY])
            sells = [o for p in sorted(inst.book[SELL]) if p <= price
                     for o in inst.book[SELL][p]] + list(inst.market[SELL])
            i = j = 0
            while i < len(buys) and j < len(sells):
                buy, sell = buys[i], sells[j]
                qty = min(buy.leaves, sell.leaves)
                self._auction_fill(inst, buy, qty)
                self._auction_fill(inst, sell, qty)
                self._emit_trade(instr, AUCTION_SIDE, price, qty, buy, sell)
                if buy.leaves == 0:
                    self._remove(inst, buy)
                    self._forget(buy)
                    i += 1
                if sell.leaves == 0:
                    self._remove(inst, sell)
                    self._forget(sell)
                    j += 1
            inst.ltp = price
        self._emit(EV_AUCTION, instr, 0, 0, 0, price, volume, imbalance)
        carry = price or inst.ref
        for side in (BUY, SELL):
            for o in list(inst.market[side]):
                self._remove(inst, o)
                o.type, o.price, o.state = LIMIT, carry, ST_BOOK
                o.visible = o.leaves
                level = inst.book[side].setdefault(carry, [])
                at = next((k for k, r in enumerate(level) if r.prio > o.prio), len(level))
                level.insert(at, o)
                self._touch(instr, side, carry)
                self._emit(EV_RESTATED, instr, o.oid, o.acct, side, carry, o.leaves,
                           R_AUCTION_MARKET_TO_LIMIT)

    def _auction_fill(self, inst: Instrument, o: Order, qty: int) -> None:
        """Auction fills use the whole remaining quantity, hidden part included; an order
        keeps its place, so a used-up disclosed part is refilled where it stands."""
        if o.state == ST_BOOK:
            self._touch(o.instr, o.side, o.price)
        o.leaves -= qty
        o.filled += qty
        if o.visible > qty:
            o.visible -= qty
        else:
            o.visible = min(o.disclosed if o.disclosed > 0 else o.leaves, o.leaves)

    def _expire_all(self, instr: int, inst: Instrument) -> None:
        doomed: list[Order] = []
        for side in (BUY, SELL):
            for price in sorted(inst.book[side]):
                doomed.extend(inst.book[side][price])
        for side in (BUY, SELL):
            for trigger in sorted(inst.stops[side]):
                doomed.extend(inst.stops[side][trigger])
        for side in (BUY, SELL):
            doomed.extend(inst.market[side])
        for o in doomed:
            self._remove(inst, o)
            self._finish(o, EV_EXPIRED, R_END_OF_DAY)

    # --- containers ------------------------------------------------------------------------

    def _take_prio(self) -> int:
        prio = self.next_prio
        self.next_prio += 1
        return prio

    def _rest(self, inst: Instrument, o: Order) -> None:
        o.state = ST_BOOK
        o.visible = min(o.disclosed, o.leaves) if o.disclosed > 0 else o.leaves
        o.prio = self._take_prio()
        inst.book[o.side].setdefault(o.price, []).append(o)
        self._touch(o.instr, o.side, o.price)

    def _rest_stop(self, inst: Instrument, o: Order) -> None:
        o.state = ST_STOP
        o.prio = self._take_prio()
        inst.stops[o.side].setdefault(o.trigger, []).append(o)

    def _enqueue_market(self, inst: Instrument, o: Order) -> None:
        o.state = ST_MARKET_QUEUE
        o.prio = self._take_prio()
        inst.market[o.side].append(o)

    def _remove(self, inst: Instrument, o: Order) -> None:
        """Take a live order out of whichever container holds it (it stays known)."""
        if o.state == ST_BOOK:
            self._touch(o.instr, o.side, o.price)
            _drop(inst.book[o.side], o.price, o)
        elif o.state == ST_STOP:
            _drop(inst.stops[o.side], o.trigger, o)
        elif o.state == ST_MARKET_QUEUE:
            inst.market[o.side].remove(o)

    def _forget(self, o: Order) -> None:
        del self.orders[o.oid]
        del self.by_account[o.acct][o.oid]
        o.state = ST_FREE

    def _finish(self, o: Order, kind: int, reason: int) -> None:
        self._emit(kind, o.instr, o.oid, o.acct, o.side, o.price, o.leaves, reason)
        self._forget(o)

    @staticmethod
    def _best(inst: Instrument, side: int) -> int | None:
        prices = inst.book[side]
        if not prices:
            return None
        return max(prices) if side == BUY else min(prices)

    def _crosses(self, inst: Instrument, side: int, price: int) -> bool:
        best = self._best(inst, 1 - side)
        return best is not None and (best <= price if side == BUY else best >= price)

    def _protection(self, inst: Instrument, side: int) -> int:
        return pricing.protection_price(
            side == BUY, inst.last, inst.protection_bps, inst.tick, inst.lo, inst.hi
        )

    # --- events ------------------------------------------------------------------------------

    def _emit(self, kind: int, instr: int, oid: int, acct: int, side: int, price: int,
              qty: int, *extra: int) -> None:
        row = [kind, self._seq, self._ts, instr, oid, acct, side, price, qty, *extra]
        row.extend([0] * (EVENT_WIDTH - len(row)))
        self._out.append(row)

    def _emit_trade(self, instr: int, aggressor: int, price: int, qty: int, buy: Order,
                    sell: Order) -> None:
        trade_id = self.next_trade_id
        self.next_trade_id += 1
        self._emit(EV_TRADED, instr, trade_id, 0, aggressor, price, qty, buy.oid, sell.oid,
                   buy.acct, sell.acct, buy.leaves, sell.leaves)

    def _reject(self, r: list[int], code: int) -> None:
        self._emit(EV_REJECTED, r[C_INSTR], r[C_OID], r[C_ACCT], r[C_SIDE], r[C_PRICE],
                   r[C_QTY], int(code), r[C_KIND])

    def _touch(self, instr: int, side: int, price: int) -> None:
        self._touched[(instr, side, price)] = None

    def _emit_book_changes(self) -> None:
        for instr, side, price in self._touched:
            level = self.instruments[instr].book[side].get(price, [])
            qty = sum(o.visible for o in level)
            self._emit(EV_BOOK_CHANGED, instr, 0, 0, side, price, qty, len(level))

    # --- canonical state (hashing, snapshots, differential tests) ------------------------

    def state(self) -> BookState:
        orders = sorted(self.orders.values(), key=lambda o: o.prio)
        rows = np.array([[getattr(o, f) for f in ORDER_FIELDS] for o in orders],
                        dtype=np.int64).reshape(-1, len(ORDER_FIELDS))
        instruments = np.array([[i.phase, i.ltp] for i in self.instruments],
                               dtype=np.int64).reshape(-1, 2)
        return BookState(orders=rows, instruments=instruments,
                         next_trade_id=self.next_trade_id, next_prio=self.next_prio)

    def load(self, state: BookState) -> None:
        """Restore from a canonical state into a book that has its instruments added."""
        for instr, (phase, ltp) in enumerate(state.instruments.tolist()):
            self.instruments[instr].phase, self.instruments[instr].ltp = phase, ltp
        by_oid = []
        for values in state.orders.tolist():  # ascending priority: FIFO order everywhere
            o = Order(**dict(zip(ORDER_FIELDS, values, strict=True)))
            inst = self.instruments[o.instr]
            if o.state == ST_BOOK:
                inst.book[o.side].setdefault(o.price, []).append(o)
            elif o.state == ST_STOP:
                inst.stops[o.side].setdefault(o.trigger, []).append(o)
            else:
                inst.market[o.side].append(o)
            self.orders[o.oid] = o
            by_oid.append(o)
        for o in sorted(by_oid, key=lambda o: o.oid):
            self.by_account.setdefault(o.acct, {})[o.oid] = o
        self.next_trade_id, self.next_prio = state.next_trade_id, state.next_prio


def _drop(levels: dict[int, list[Order]], key: int, o: Order) -> None:
    level = levels[key]
    level.remove(o)
    if not level:
        del levels[key]
