"""The reference account side: pre-trade risk, positions, ledger and marks in plain Python.

It is the executable statement of the rules and the oracle the numba implementation
(`risk.fast`) is tested against. Per command, in the core's order:

1. NEW_ORDER and AMEND are checked here after the book's own checks pass (instrument,
   price, quantity). The risk checks run in a fixed order, the first failure wins, and a
   rejection changes nothing:
   kill switch (global, account, instrument) -> product allowed -> order-rate throttle ->
   max open orders -> max order value -> position capacity -> position limits (long, short)
   -> holdings for delivery sells -> buying power.
   Orders the core creates to square off positions skip the kill switch, throttle, open-order
   and order-value limits: they only ever reduce risk.
2. The book processes the command.
3. Its events update the account side, in event order: an ACCEPTED order blocks its funds
   and takes a rate token; a fill releases what it no longer needs, moves the position,
   posts the ledger entry and moves margin from blocked to held; a cancel or expiry releases
   everything; an amendment re-blocks for the new quantity and price.

Account commands (deposit, withdrawal, limits, marks) run here without the book.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np

from engine.codes import RejectCode
from engine.instruments import InstrumentSpec
from engine.layout import (
    BUY,
    C_ACCT,
    C_AMOUNT,
    C_CREDIT,
    C_FLAGS,
    C_INSTR,
    C_KIND,
    C_MAX_LONG,
    C_MAX_OPEN_ORDERS,
    C_MAX_ORDER_VALUE,
    C_MAX_SHORT,
    C_OID,
    C_PRECHECK,
    C_PRICE,
    C_PRODUCT,
    C_QTY,
    C_RATE,
    C_SEQ,
    C_SIDE,
    C_TRIGGER,
    C_TS,
    C_TYPE,
    CNC,
    E_A,
    E_ACCT,
    E_B,
    E_E,
    E_INSTR,
    E_KIND,
    E_OID,
    E_PRICE,
    E_QTY,
    E_SIDE,
    EQ_SEGMENT,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_LEDGER,
    EV_LIMITS_SET,
    EV_MARGIN_CALL,
    EV_REJECTED,
    EV_RESTATED,
    EV_TRADED,
    EVENT_WIDTH,
    F_RISK_REDUCING,
    FUT_SEGMENT,
    K_AMEND,
    K_DEPOSIT,
    K_MARK,
    K_NEW_ORDER,
    K_SET_LIMITS,
    K_WITHDRAW,
    LA_BANK,
    LA_CLEARING,
    LA_CLIENT,
    LE_DEPOSIT,
    LE_REALISED_PNL,
    LE_TRADE_VALUE,
    LE_WITHDRAWAL,
    MIS,
    SELL,
    SL_M,
)
from engine.refbook import ReferenceBook
from engine.sequencer import SYNTHETIC_ORDER_IDS
from engine.types import KillScope
from risk import rules
from risk.state import ACCOUNT_FIELDS, LEDGER_FIELDS, ORDER_FIELDS, POSITION_FIELDS, RiskState

OK = int(RejectCode.OK)
SYNTHETIC_BASE = SYNTHETIC_ORDER_IDS  # ids of orders the core creates (square-off)


@dataclass(slots=True)
class Account:
    acct: int
    cash: int = 0
    blocked: int = 0
    margin: int = 0
    credit: int = 0
    max_value: int = 0
    max_open: int = 0
    open: int = 0
    max_long: int = 0
    max_short: int = 0
    rate: int = 0
    tokens: int = 0
    token_ts: int = 0
    killed: int = 0
    in_call: int = 0
    basis_margin: int = 0
    unrealised: int = 0
    equity: int = 0
    day_brokerage: int = 0

    @property
    def buying_power(self) -> int:
        return self.cash + self.credit - self.blocked - self.margin


@dataclass(slots=True)
class Position:
    acct: int
    instr: int
    product: int
    net: int = 0
    basis: int = 0
    realised: int = 0
    margin: int = 0
    open_buy: int = 0
    open_sell: int = 0
    day_buy_qty: int = 0
    day_buy_val: int = 0
    day_sell_qty: int = 0
    day_sell_val: int = 0
    overnight: int = 0


@dataclass(slots=True)
class RiskOrder:
    oid: int
    acct: int
    instr: int
    product: int
    side: int
    qty: int
    leaves: int
    reduce: int
    block_price: int
    rate: int
    blocked: int
    turnover: int = 0


@dataclass(slots=True)
class InstrumentRisk:
    segment: int
    products: frozenset[int]
    rates: dict[int, int]
    killed: int = 0
    mark: int = 0


assert tuple(f.name for f in fields(Account)) == ACCOUNT_FIELDS
assert tuple(f.name for f in fields(Position)) == POSITION_FIELDS
assert tuple(f.name for f in fields(RiskOrder)) == ORDER_FIELDS


class ReferenceRisk:
    def __init__(self, max_accounts: int, max_positions: int, maintenance_bps: int,
                 default_rate: int) -> None:
        self.max_accounts = max_accounts
        self.max_positions = max_positions
        self.maintenance_bps = maintenance_bps
        self.default_rate = default_rate
        self.accounts: dict[int, Account] = {}
        self.positions: dict[tuple[int, int, int], Position] = {}
        self.orders: dict[int, RiskOrder] = {}
        self.instruments: list[InstrumentRisk] = []
        self.ledger = dict.fromkeys(LEDGER_FIELDS, 0)
        self.global_kill = 0
        self.next_synthetic = 0
        self.closed_day = 0
        self.intraday_closed = -1
        self._pending: tuple[int, int, int, int] | None = None
        self._out: list[list[int]] = []
        self._seq = self._ts = 0

    # --- setup ------------------------------------------------------------------------------

    def add_instrument(self, spec: InstrumentSpec) -> None:
        self.instruments.append(InstrumentRisk(
            segment=EQ_SEGMENT if spec.segment == "EQ" else FUT_SEGMENT,
            products=frozenset(int(p) for p in spec.products),
            rates={int(p): spec.margin_bps(p) for p in spec.products},
        ))

    def account(self, acct: int) -> Account:
        a = self.accounts.get(acct)
        if a is None:
            a = Account(acct, rate=self.default_rate, tokens=self.default_rate * rules.TOKEN)
            self.accounts[acct] = a
        return a

    def account_state(self, acct: int) -> list[int]:
        """One account as a row of `ACCOUNT_FIELDS` (a fresh account if never used)."""
        a = self.accounts.get(acct) or Account(acct, rate=self.default_rate,
                                               tokens=self.default_rate * rules.TOKEN)
        return list(astuple(a))

    def positions_of(self, acct: int) -> list[list[int]]:
        """The account's positions as rows of `POSITION_FIELDS`, by instrument and product."""
        return [list(astuple(p)) for key, p in sorted(self.positions.items()) if key[0] == acct]

    def positions_of_accounts(self, accts: np.ndarray) -> np.ndarray:
        """`positions_of` of every account of ``accts`` (ascending), as one array."""
        wanted = set(np.asarray(accts).tolist())
        rows = [astuple(p) for key, p in sorted(self.positions.items()) if key[0] in wanted]
        return np.array(rows, dtype=np.int64).reshape(len(rows), len(fields(Position)))

    def position(self, acct: int, instr: int, product: int) -> Position:
        key = (acct, instr, product)
        p = self.positions.get(key)
        if p is None:
            p = self.positions[key] = Position(acct, instr, product)
        return p

    # --- the per-row pipeline ------------------------------------------------------------------

    def process(self, book: ReferenceBook, rows: np.ndarray,
                keep_events: bool = True) -> np.ndarray:
        out: list[np.ndarray] = []
        for row in rows:
            out.append(self.process_row(book, row))
        if not out or not keep_events:
            return np.zeros((0, EVENT_WIDTH), dtype=np.int64)
        return np.concatenate(out)

    def process_row(self, book: ReferenceBook, row: np.ndarray) -> np.ndarray:
        r = [int(v) for v in row]
        self._seq, self._ts, self._out = r[C_SEQ], r[C_TS], []
        kind = r[C_KIND]
        if kind in (K_DEPOSIT, K_WITHDRAW, K_SET_LIMITS, K_MARK):
            self._account_command(book, r)
            return _rows(self._out)
        self._pending = None
        if kind == K_NEW_ORDER:
            code = self._check_new(book, r)
        elif kind == K_AMEND:
            code = self._check_amend(book, r)
        else:
            code = OK
        if code != OK:
            r[C_PRECHECK] = code
        book_events = book.process(np.array([r], dtype=np.int64))
        for e in book_events.tolist():
            self._apply_event(r, e)
        return np.concatenate([book_events, _rows(self._out)])

    # --- pre-trade checks -------------------------------------------------------------------

    def _check_new(self, book: ReferenceBook, r: list[int]) -> int:
        if book.new_order_code(r) != OK:
            return OK  # the book rejects it with its own code
        a = self.account(r[C_ACCT])
        instr, side, product, qty = r[C_INSTR], r[C_SIDE], r[C_PRODUCT], r[C_QTY]
        ins = self.instruments[instr]
        reducing = r[C_FLAGS] & F_RISK_REDUCING
        if not reducing:
            if self.global_kill:
                return RejectCode.KILL_SWITCH_GLOBAL
            if a.killed:
                return RejectCode.KILL_SWITCH_ACCOUNT
            if ins.killed:
                return RejectCode.KILL_SWITCH_INSTRUMENT
        if product not in ins.products:
            return RejectCode.PRODUCT_NOT_ALLOWED
        if not reducing:
            if a.rate > 0 and rules.refilled(a.tokens, a.token_ts, a.rate, r[C_TS]) < rules.TOKEN:
                return RejectCode.THROTTLED
            if a.max_open > 0 and a.open >= a.max_open:
                return RejectCode.MAX_OPEN_ORDERS
        inst = book.instruments[instr]
        bp = rules.block_price(r[C_TYPE], side, r[C_PRICE], r[C_TRIGGER], inst.phase, inst.last,
                               inst.protection_bps, inst.tick, inst.lo, inst.hi)
        if not reducing and a.max_value > 0 and qty * bp > a.max_value:
            return RejectCode.MAX_ORDER_VALUE
        pos = self.positions.get((a.acct, instr, product))
        if pos is None and len(self.positions) >= self.max_positions:
            return RejectCode.CAPACITY_POSITIONS
        net, open_buy, open_sell = (pos.net, pos.open_buy, pos.open_sell) if pos else (0, 0, 0)
        code = _position_limit(a, side, qty, net, open_buy, open_sell)
        if code != OK:
            return code
        if product == CNC and side == SELL and qty > max(0, net) - open_sell:
            return RejectCode.NO_HOLDINGS
        rate = ins.rates[product]
        reduce = qty if product == CNC and side == SELL else min(
            qty, rules.reducible(side, net, open_buy, open_sell))
        if product == MIS and reduce < qty and rules.ist_day(r[C_TS]) <= self.intraday_closed:
            return RejectCode.INTRADAY_CUTOFF
        need = rules.need_for(product, side, qty, reduce, bp, rate)
        if need > a.buying_power:
            return RejectCode.INSUFFICIENT_FUNDS
        self._pending = (need, reduce, bp, rate)
        return OK

    @staticmethod
    def _amended_block_price(book: ReferenceBook, r: list[int], o: RiskOrder) -> int:
        if r[C_PRICE]:
            return r[C_PRICE]
        if r[C_TRIGGER] and book.orders[o.oid].type == SL_M:
            inst = book.instruments[o.instr]
            return rules.block_price(SL_M, o.side, 0, r[C_TRIGGER], inst.phase, inst.last,
                                     inst.protection_bps, inst.tick, inst.lo, inst.hi)
        return o.block_price

    def _check_amend(self, book: ReferenceBook, r: list[int]) -> int:
        if book.amend_code(r) != OK:
            return OK
        o = self.orders[r[C_OID]]
        a = self.account(o.acct)
        if self.global_kill:
            return RejectCode.KILL_SWITCH_GLOBAL
        if a.killed:
            return RejectCode.KILL_SWITCH_ACCOUNT
        if self.instruments[o.instr].killed:
            return RejectCode.KILL_SWITCH_INSTRUMENT
        if a.rate > 0 and rules.refilled(a.tokens, a.token_ts, a.rate, r[C_TS]) < rules.TOKEN:
            return RejectCode.THROTTLED
        qty = r[C_QTY] or o.qty
        leaves = qty - (o.qty - o.leaves)
        bp = self._amended_block_price(book, r, o)
        if a.max_value > 0 and leaves * bp > a.max_value:
            return RejectCode.MAX_ORDER_VALUE
        pos = self.positions[(o.acct, o.instr, o.product)]
        grow = leaves - o.leaves
        if grow > 0:
            open_buy = pos.open_buy + (grow if o.side == BUY else 0)
            open_sell = pos.open_sell + (grow if o.side == SELL else 0)
            if _position_limit(a, o.side, 0, pos.net, open_buy, open_sell) != OK:
                return RejectCode.POSITION_LIMIT
            if o.product == CNC and o.side == SELL and open_sell > max(0, pos.net):
                return RejectCode.NO_HOLDINGS
        reduce = min(o.reduce, leaves)
        if o.product == MIS and grow > 0 and rules.ist_day(r[C_TS]) <= self.intraday_closed:
            return RejectCode.INTRADAY_CUTOFF
        need = rules.need_for(o.product, o.side, leaves, reduce, bp, o.rate)
        if need - o.blocked > a.buying_power:
            return RejectCode.INSUFFICIENT_FUNDS
        self._pending = (need, reduce, bp, o.rate)
        return OK

    # --- events of the book --------------------------------------------------------------------

    def _apply_event(self, r: list[int], e: list[int]) -> None:
        kind = e[E_KIND]
        if kind == EV_ACCEPTED:
            self._accepted(r, e)
        elif kind == EV_TRADED:
            price, qty = e[E_PRICE], e[E_QTY]
            self._fill(e, e[E_A], qty, price)  # buy side first, then sell side
            self._fill(e, e[E_B], qty, price)
        elif kind in (EV_CANCELLED, EV_EXPIRED):
            self._finish(self.orders[e[E_OID]])
        elif kind == EV_AMENDED:
            self._amended(r, e)
        elif kind == EV_RESTATED:
            o = self.orders[e[E_OID]]
            self._reblock(o, o.leaves, o.reduce, e[E_PRICE])

    def _accepted(self, r: list[int], e: list[int]) -> None:
        assert self._pending is not None
        need, reduce, bp, rate = self._pending
        acct, instr, side, qty = e[E_ACCT], e[E_INSTR], e[E_SIDE], e[E_QTY]
        product = e[E_E] >> 8
        o = RiskOrder(e[E_OID], acct, instr, product, side, qty, qty, reduce, bp, rate, need)
        self.orders[o.oid] = o
        a = self.account(acct)
        a.blocked += need
        a.open += 1
        pos = self.position(acct, instr, product)
        if side == BUY:
            pos.open_buy += qty
        else:
            pos.open_sell += qty
        if a.rate > 0 and not r[C_FLAGS] & F_RISK_REDUCING:
            a.tokens = rules.refilled(a.tokens, a.token_ts, a.rate, r[C_TS]) - rules.TOKEN
            a.token_ts = r[C_TS]

    def _amended(self, r: list[int], e: list[int]) -> None:
        assert self._pending is not None
        need, reduce, bp, _ = self._pending
        o = self.orders[e[E_OID]]
        a = self.account(o.acct)
        pos = self.positions[(o.acct, o.instr, o.product)]
        grow = e[E_A] - o.leaves
        if o.side == BUY:
            pos.open_buy += grow
        else:
            pos.open_sell += grow
        o.qty, o.leaves, o.reduce, o.block_price = e[E_QTY], e[E_A], reduce, bp
        a.blocked += need - o.blocked
        o.blocked = need
        if a.rate > 0:
            a.tokens = rules.refilled(a.tokens, a.token_ts, a.rate, r[C_TS]) - rules.TOKEN
            a.token_ts = r[C_TS]

    def _reblock(self, o: RiskOrder, leaves: int, reduce: int, bp: int) -> None:
        need = rules.need_for(o.product, o.side, leaves, reduce, bp, o.rate)
        self.account(o.acct).blocked += need - o.blocked
        o.leaves, o.reduce, o.block_price, o.blocked = leaves, reduce, bp, need

    def _fill(self, e: list[int], oid: int, qty: int, price: int) -> None:
        o = self.orders[oid]
        a = self.account(o.acct)
        pos = self.positions[(o.acct, o.instr, o.product)]
        if o.side == BUY:
            pos.open_buy -= qty
            pos.day_buy_qty += qty
            pos.day_buy_val += qty * price
        else:
            pos.open_sell -= qty
            pos.day_sell_qty += qty
            pos.day_sell_val += qty * price
        o.turnover += qty * price
        self._reblock(o, o.leaves - qty, o.reduce - min(qty, o.reduce), o.block_price)
        old_basis = pos.basis
        pos.net, pos.basis, realised = rules.apply_fill(pos.net, pos.basis, o.side, qty, price)
        pos.realised += realised
        trade_id = e[E_OID]
        if o.product == CNC:
            value = qty * price
            if o.side == BUY:
                self._post(LE_TRADE_VALUE, o, trade_id, price, qty, LA_CLIENT, LA_CLEARING, value)
            else:
                self._post(LE_TRADE_VALUE, o, trade_id, price, qty, LA_CLEARING, LA_CLIENT, value)
        else:
            if realised > 0:
                self._post(LE_REALISED_PNL, o, trade_id, price, qty, LA_CLEARING, LA_CLIENT,
                           realised)
            elif realised < 0:
                self._post(LE_REALISED_PNL, o, trade_id, price, qty, LA_CLIENT, LA_CLEARING,
                           -realised)
            margin = rules.position_margin(o.product, pos.basis, o.rate)
            a.margin += margin - pos.margin
            pos.margin = margin
            a.basis_margin += pos.basis - old_basis
        if o.leaves == 0:
            self._finish(o)

    def _finish(self, o: RiskOrder) -> None:
        """The order is done (filled, cancelled or expired): release what it still blocks."""
        a = self.account(o.acct)
        pos = self.positions[(o.acct, o.instr, o.product)]
        if o.side == BUY:
            pos.open_buy -= o.leaves
        else:
            pos.open_sell -= o.leaves
        a.blocked -= o.blocked
        a.open -= 1
        a.day_brokerage += rules.order_brokerage(o.product, self.instruments[o.instr].segment,
                                                 o.turnover)
        del self.orders[o.oid]

    def _post(self, entry: int, o: RiskOrder, reference: int, price: int, qty: int,
              debit: int, credit: int, amount: int) -> None:
        self.transfer(o.acct, debit, credit, amount)
        self._emit(EV_LEDGER, o.instr, reference, o.acct, entry, price, qty, debit, credit,
                   amount)

    def transfer(self, acct: int, debit: int, credit: int, amount: int) -> None:
        """Move ``amount`` between two ledger accounts (CLIENT: the account's cash)."""
        for account, sign in ((debit, -1), (credit, 1)):
            if account == LA_CLIENT:
                self.account(acct).cash += sign * amount
            else:
                name = LEDGER_FIELDS[account - 1]
                self.ledger[name] += sign * amount

    # --- account commands ----------------------------------------------------------------------

    def _account_command(self, book: ReferenceBook, r: list[int]) -> None:
        kind, acct = r[C_KIND], r[C_ACCT]
        if kind == K_MARK:
            self._mark(book)
            return
        if not 0 <= acct < self.max_accounts:
            self._reject(r, RejectCode.ACCOUNT_INVALID)
            return
        if kind == K_SET_LIMITS:
            values = [r[C_CREDIT], r[C_MAX_ORDER_VALUE], r[C_MAX_OPEN_ORDERS], r[C_MAX_LONG],
                      r[C_MAX_SHORT], r[C_RATE]]
            if min(values) < 0:
                self._reject(r, RejectCode.LIMITS_INVALID)
                return
            a = self.account(acct)
            a.credit, a.max_value, a.max_open, a.max_long, a.max_short, a.rate = values
            a.tokens, a.token_ts = a.rate * rules.TOKEN, r[C_TS]
            self._emit(EV_LIMITS_SET, -1, 0, acct, 0, 0, 0, *values)
            return
        amount = r[C_AMOUNT]
        if amount <= 0:
            self._reject(r, RejectCode.AMOUNT_INVALID)
            return
        a = self.account(acct)
        if kind == K_DEPOSIT:
            debit, credit, entry = LA_BANK, LA_CLIENT, LE_DEPOSIT
        else:
            if amount > a.cash - a.blocked - a.margin:
                self._reject(r, RejectCode.WITHDRAWAL_EXCEEDS_FREE_CASH)
                return
            debit, credit, entry = LA_CLIENT, LA_BANK, LE_WITHDRAWAL
        self.transfer(acct, debit, credit, amount)
        self._emit(EV_LEDGER, -1, 0, acct, entry, 0, 0, debit, credit, amount)

    def _mark(self, book: ReferenceBook) -> None:
        """Mark margin positions at the last prices; report accounts entering or leaving a
        margin call (equity = cash + credit + unrealised below the maintenance margin)."""
        for instr, ins in enumerate(self.instruments):
            ins.mark = book.instruments[instr].last
        held: dict[int, int] = {}
        for (acct, instr, product), p in self.positions.items():
            if product != CNC and p.net != 0:
                held[acct] = held.get(acct, 0) + p.net * self.instruments[instr].mark
        for acct in sorted(self.accounts):
            a = self.accounts[acct]
            a.unrealised = held.get(acct, 0) - a.basis_margin
            a.equity = a.cash + a.credit + a.unrealised
            maintenance = rules.ceil_div(a.margin * self.maintenance_bps, rules.BPS)
            in_call = int(a.margin > 0 and a.equity < maintenance)
            if in_call != a.in_call:
                a.in_call = in_call
                self._emit(EV_MARGIN_CALL, -1, 0, acct, 0, 0, 0, in_call, a.equity,
                           maintenance, a.unrealised)

    # --- python-side commands of the core ------------------------------------------------------

    def set_kill(self, scope: int, target: int, on: bool) -> None:
        if scope == KillScope.GLOBAL:
            self.global_kill = int(on)
        elif scope == KillScope.ACCOUNT:
            self.account(target).killed = int(on)
        else:
            self.instruments[target].killed = int(on)

    def open_orders(self, product: int = 0, instr: int = -1, acct: int = -1) -> list[tuple]:
        """(order id, account) of open orders matching, ascending order id."""
        return [(o.oid, o.acct) for oid, o in sorted(self.orders.items())
                if (product == 0 or o.product == product) and instr in (-1, o.instr)
                and acct in (-1, o.acct)]

    def open_positions(self, product: int, instr: int = -1) -> list[tuple[int, int, int]]:
        """(account, instrument, net) of non-flat positions, ascending key."""
        return [(a, i, p.net) for (a, i, prod), p in sorted(self.positions.items())
                if prod == product and p.net != 0 and instr in (-1, i)]

    def take_synthetic_id(self) -> int:
        self.next_synthetic += 1
        return SYNTHETIC_BASE + self.next_synthetic

    def day_turnover(self) -> dict[int, list[tuple[int, int, int, int]]]:
        """account -> [(instrument, product, buy value, sell value)] of today's trading."""
        out: dict[int, list[tuple[int, int, int, int]]] = {}
        for (acct, instr, product), p in sorted(self.positions.items()):
            if p.day_buy_val or p.day_sell_val:
                out.setdefault(acct, []).append((instr, product, p.day_buy_val, p.day_sell_val))
        return out

    def day_brokerage(self, acct: int) -> int:
        return self.account(acct).day_brokerage

    def close_intraday(self, ist_day: int) -> None:
        """From now until the end of Indian day ``ist_day``, MIS orders may only reduce."""
        self.intraday_closed = ist_day

    def roll_day(self, day: int) -> None:
        """Close trading day ``day`` (YYYYMMDD): today's positions become overnight, flat
        ones are dropped."""
        self.closed_day = day
        for key, p in list(self.positions.items()):
            p.overnight = p.net
            p.day_buy_qty = p.day_buy_val = p.day_sell_qty = p.day_sell_val = 0
            if p.net == 0 and p.open_buy == 0 and p.open_sell == 0:
                del self.positions[key]
        for a in self.accounts.values():
            a.day_brokerage = 0

    # --- canonical state ---------------------------------------------------------------------

    def state(self) -> RiskState:
        fresh = astuple(Account(0, rate=self.default_rate,
                                tokens=self.default_rate * rules.TOKEN))[1:]
        accounts = [astuple(a) for k, a in sorted(self.accounts.items())
                    if astuple(a)[1:] != fresh]
        return RiskState(
            accounts=_array(accounts, len(ACCOUNT_FIELDS)),
            positions=_array([astuple(p) for _, p in sorted(self.positions.items())],
                             len(POSITION_FIELDS)),
            orders=_array([astuple(o) for _, o in sorted(self.orders.items())],
                          len(ORDER_FIELDS)),
            instruments=_array([(i.killed, i.mark) for i in self.instruments], 2),
            ledger=np.array([self.ledger[f] for f in LEDGER_FIELDS], dtype=np.int64),
            global_kill=self.global_kill,
            next_synthetic=self.next_synthetic,
            closed_day=self.closed_day,
            intraday_closed=self.intraday_closed,
        )

    def load(self, state: RiskState, book: object = None) -> None:
        """Restore ``state`` (its orders are keyed by order id: the book is not needed)."""
        for row in state.accounts.tolist():
            self.accounts[row[0]] = Account(*row)
        for row in state.positions.tolist():
            self.positions[(row[0], row[1], row[2])] = Position(*row)
        for row in state.orders.tolist():
            self.orders[row[0]] = RiskOrder(*row)
        for ins, (killed, mark) in zip(self.instruments, state.instruments.tolist(),
                                       strict=True):
            ins.killed, ins.mark = killed, mark
        self.ledger = dict(zip(LEDGER_FIELDS, state.ledger.tolist(), strict=True))
        self.global_kill, self.next_synthetic = state.global_kill, state.next_synthetic
        self.closed_day = state.closed_day
        self.intraday_closed = state.intraday_closed

    # --- events ------------------------------------------------------------------------------

    def _emit(self, kind: int, instr: int, oid: int, acct: int, side: int, price: int,
              qty: int, *extra: int) -> None:
        row = [kind, self._seq, self._ts, instr, oid, acct, side, price, qty, *extra]
        row.extend([0] * (EVENT_WIDTH - len(row)))
        self._out.append(row)

    def _reject(self, r: list[int], code: int) -> None:
        self._emit(EV_REJECTED, r[C_INSTR], r[C_OID], r[C_ACCT], r[C_SIDE], r[C_PRICE],
                   r[C_QTY], int(code), r[C_KIND])


def _position_limit(a: Account, side: int, qty: int, net: int, open_buy: int,
                    open_sell: int) -> int:
    """Long and short limits against the worst case of every open order filling."""
    if side == BUY and a.max_long > 0 and net + open_buy + qty > a.max_long:
        return RejectCode.POSITION_LIMIT
    if side == SELL and a.max_short > 0 and open_sell + qty - net > a.max_short:
        return RejectCode.POSITION_LIMIT
    return OK


def _rows(rows: list[list[int]]) -> np.ndarray:
    if not rows:
        return np.zeros((0, EVENT_WIDTH), dtype=np.int64)
    return np.array(rows, dtype=np.int64)


def _array(rows: list, width: int) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, width)

