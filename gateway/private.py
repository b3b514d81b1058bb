"""Private feeds: every account's orders, fills, positions and funds, from the core's events.

`AccountFeeds.apply` takes one durable batch (its commands, for the client order ids, and
its event rows) and answers with the updates per account and channel. Orders are tracked
from acceptance to their end so that every state change carries the whole order (status,
filled, leaves, average price), and a client that lost a reply can query an order by its
client order id. Positions and funds are read from the account side after the batch, for
the accounts it touched. No I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import msgspec

from engine.codes import RejectCode
from engine.commands import CommandBatch, client_order_ids
from engine.core import Core
from engine.layout import (
    E_A,
    E_ACCT,
    E_B,
    E_C,
    E_D,
    E_E,
    E_F,
    E_INSTR,
    E_KIND,
    E_OID,
    E_PRICE,
    E_QTY,
    E_SEQ,
    E_SIDE,
    E_TS,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_LEDGER,
    EV_MARGIN_CALL,
    EV_REJECTED,
    EV_RESTATED,
    EV_TRADED,
    EV_TRIGGERED,
    K_NEW_ORDER,
    ST_BOOK,
    ST_MARKET_QUEUE,
    ST_STOP,
)
from engine.snapshot_types import ORDER_FIELDS as BOOK_FIELDS
from engine.types import AUCTION_AGGRESSOR, OrderType, Product, Reason, Side, TimeInForce
from gateway.ops import STOP_TYPES
from portfolio.views import AccountView, account_view, average_price, position_view
from risk.state import ORDER_FIELDS as RISK_FIELDS

# Names by value: enum construction costs more than the rest of building a record.
_SIDES = {int(v): v.name for v in Side}
_TYPES = {int(v): v.name for v in OrderType}
_BUY, _SELL = int(Side.BUY), int(Side.SELL)  # plain ints: enum members are slow to compare
_TIFS = {int(v): v.name for v in TimeInForce}
_PRODUCTS = {int(v): v.name for v in Product}

DONE_KEPT = 1_000


_ORDER_CHANGES = frozenset((EV_CANCELLED, EV_EXPIRED, EV_AMENDED, EV_TRIGGERED, EV_RESTATED))
_ACCOUNT_EVENTS = _ORDER_CHANGES | {EV_ACCEPTED, EV_REJECTED, EV_TRADED, EV_LEDGER,
                                    EV_MARGIN_CALL}


def _always(name: str, account: int) -> bool:
    return True  # finished orders remembered per account for queries


class Order(msgspec.Struct):
    order_id: int
    client_order_id: str
    account: int
    symbol: str
    side: str
    type: str
    tif: str
    product: str
    price: int
    trigger: int
    qty: int
    filled: int
    leaves: int
    average_price: int
    status: str
    reason: str
    created_ts: int
    updated_ts: int
    seq: int  # the core sequence number of the command that last changed it


class Fill(msgspec.Struct):
    trade_id: int
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    price: int
    qty: int
    liquidity: str  # maker, taker or auction
    ts: int


class Position(msgspec.Struct):
    """One position row as clients see it: named like the order records."""

    account: int
    symbol: str
    instrument: int
    product: str  # CNC, MIS or NRML, as in order records
    net: int
    average_price: int
    basis: int  # signed cost of the net position: unrealised = net x mark - basis
    realised: int
    unrealised: int
    margin: int
    open_buy: int
    open_sell: int
    day_buy_qty: int
    day_sell_qty: int
    overnight: int


class Positions(msgspec.Struct):
    positions: list[Position]


Update = tuple[int, str, object]  # account, channel ("orders", "fills", ...), payload


class AccountFeeds:
    def __init__(self, core: Core, *, record: Callable[[Order], object] | None = None,
                 queries: bool = True) -> None:
        self.core = core
        # What an order update carries: a copy of the order by default (the tracked order
        # goes on changing); a consumer may take another frozen form of it instead.
        self._record_of: Callable[[Order], object] = record or _copy
        # Without queries (a consumer of updates only) finished orders and client order ids
        # are not remembered: only open orders are, for their next updates.
        self.queries = queries
        self.live: dict[int, Order] = {}
        self.done: dict[int, OrderedDict[int, Order]] = {}
        self.by_client_id: dict[tuple[int, str], int] = {}
        self._cost: dict[int, int] = {}  # order id -> traded value, for the average price
        self._kept: Callable[[str, int], bool] = _always
        self._recover_open_orders()

    def _recover_open_orders(self) -> None:
        """The orders resting in a recovered core, so that queries, cancels by client order
        id and later fills of orders placed before a restart work as before it. Their
        average price counts only fills from now on (the book keeps no traded value)."""
        book = BOOK_FIELDS
        client_ids = {oid: cid for (_, cid), oid in self.core.client_ids.items()}
        products: dict[int, int] = {}
        if self.core.risk is not None:
            for row in self.core.risk.state().orders.tolist():
                products[row[RISK_FIELDS.index("oid")]] = row[RISK_FIELDS.index("product")]
        for row in self.core.book.state().orders.tolist():
            state = row[book.index("state")]
            if state not in (ST_BOOK, ST_STOP, ST_MARKET_QUEUE):
                continue
            oid, filled = row[book.index("oid")], row[book.index("filled")]
            status = ("TRIGGER_PENDING" if state == ST_STOP
                      else "PARTIALLY_FILLED" if filled else "OPEN")
            product = products.get(oid, 0)
            order = Order(
                oid, client_ids.get(oid, ""), row[book.index("acct")],
                self._symbol(row[book.index("instr")]), Side(row[book.index("side")]).name,
                OrderType(row[book.index("type")]).name,
                TimeInForce(row[book.index("tif")]).name,
                Product(product).name if product else "", row[book.index("price")],
                row[book.index("trigger")], row[book.index("qty")], filled,
                row[book.index("leaves")], 0, status, "", row[book.index("ts")],
                row[book.index("ts")], 0,
            )
            self.live[oid] = order
            if order.client_order_id:
                self.by_client_id[(order.account, order.client_order_id)] = oid

    # --- a batch -------------------------------------------------------------------------------

    def apply(self, batch: CommandBatch, rows: list[list[int]],
              wanted: Callable[[str, int], bool] = _always,
              kept: Callable[[str, int], bool] = _always) -> list[Update]:
        """The updates of a batch, per account and channel. Every order is tracked here;
        order records and fills are produced for the channels that are ``kept`` (someone
        subscribed to them in this run); funds and positions only where ``wanted`` says
        someone follows them now, else ``None``: the state changed but nobody needs its new
        value now."""
        self._kept = kept
        client_ids = client_order_ids(batch)
        out: list[Update] = []
        touched: set[int] = set()
        for row in rows:
            kind = row[E_KIND]
            if kind not in _ACCOUNT_EVENTS:  # the book's depth and the like
                continue
            if kind == EV_ACCEPTED:
                out.append(self._accepted(row, client_ids.get(row[E_OID], "")))
                touched.add(row[E_ACCT])
            elif kind == EV_TRADED:
                out.extend(self._traded(row))
                touched.add(row[E_C])
                touched.add(row[E_D])
            elif kind in _ORDER_CHANGES:
                update = self._changed(kind, row)
                if update is not None:
                    out.append(update)
                    touched.add(update[0])
            elif kind == EV_REJECTED:
                if row[E_B] == K_NEW_ORDER:
                    out.append(self._rejected(row, client_ids.get(row[E_OID], "")))
            else:  # ledger entries and margin calls
                touched.add(row[E_ACCT])
        if self.core.risk is not None:
            marks: list[int] | None = None
            for account in sorted(a for a in touched if a >= 0):
                funds = self.funds(account) if wanted("funds", account) else None
                out.append((account, "funds", funds))
                positions = None
                if wanted("positions", account):
                    marks = marks or self._marks()
                    positions = self.positions(account, marks)
                out.append((account, "positions", positions))
        return out

    def _record(self, order: Order) -> Update:
        """The order's state now, as an update of its channel (a copy: the order goes on
        changing), or no payload when nobody keeps that channel."""
        kept = self._kept("orders", order.account)
        return (order.account, "orders", self._record_of(order) if kept else None)

    def _accepted(self, r: list[int], client_id: str) -> Update:
        otype = r[E_A]
        waiting = otype in STOP_TYPES
        product = r[E_E] >> 8 or int(Product.MIS)
        order = Order(
            r[E_OID], client_id, r[E_ACCT], self._symbol(r[E_INSTR]), _SIDES[r[E_SIDE]],
            _TYPES[otype], _TIFS[r[E_B]], _PRODUCTS[product], r[E_PRICE], r[E_C], r[E_QTY],
            0, r[E_QTY], 0, "TRIGGER_PENDING" if waiting else "OPEN", "", r[E_TS], r[E_TS],
            r[E_SEQ],
        )
        self.live[order.order_id] = order
        if client_id and self.queries:
            self.by_client_id[(order.account, client_id)] = order.order_id
        return self._record(order)

    def _rejected(self, r: list[int], client_id: str) -> Update:
        code = RejectCode(r[E_A])
        order = Order(
            r[E_OID], client_id, r[E_ACCT], self._symbol(r[E_INSTR]), _side(r[E_SIDE]), "",
            "", "", r[E_PRICE], 0, r[E_QTY], 0, 0, 0, "REJECTED", code.name, r[E_TS], r[E_TS],
            r[E_SEQ],
        )
        self._finish(order)
        return self._record(order)

    def _traded(self, r: list[int]) -> list[Update]:
        out: list[Update] = []
        for oid, account, leaves, side in ((r[E_A], r[E_C], r[E_E], _BUY),
                                           (r[E_B], r[E_D], r[E_F], _SELL)):
            order = self.live.get(oid)
            if order is None:
                continue
            qty, price = r[E_QTY], r[E_PRICE]
            order.filled += qty
            order.leaves = leaves
            self._cost[oid] = self._cost.get(oid, 0) + qty * price
            order.average_price = average_price(order.filled, self._cost[oid])
            order.status = "FILLED" if leaves == 0 else "PARTIALLY_FILLED"
            order.updated_ts, order.seq = r[E_TS], r[E_SEQ]
            out.append(self._record(order))
            if self._kept("fills", account):
                liquidity = ("auction" if r[E_SIDE] == AUCTION_AGGRESSOR
                             else "taker" if r[E_SIDE] == side else "maker")
                out.append((account, "fills", Fill(r[E_OID], oid, order.client_order_id,
                                                   order.symbol, _SIDES[side], price, qty,
                                                   liquidity, r[E_TS])))
            if leaves == 0:
                self._finish(order)
        return out

    def _changed(self, kind: int, r: list[int]) -> Update | None:
        order = self.live.get(r[E_OID])
        if order is None:
            return None
        if kind in (EV_CANCELLED, EV_EXPIRED):
            order.status = "CANCELLED" if kind == EV_CANCELLED else "EXPIRED"
            order.reason = Reason(r[E_A]).name
            order.leaves = 0
        elif kind == EV_AMENDED:
            order.price, order.qty, order.leaves = r[E_PRICE], r[E_QTY], r[E_A]
            order.trigger = r[E_C]
        elif kind == EV_TRIGGERED:
            order.status = "OPEN" if order.filled == 0 else "PARTIALLY_FILLED"
            order.price = r[E_PRICE]
        else:  # restated: a market order turned limit at the auction price
            order.price = r[E_PRICE]
        order.updated_ts, order.seq = r[E_TS], r[E_SEQ]
        if kind in (EV_CANCELLED, EV_EXPIRED):
            self._finish(order)
        return self._record(order)

    def _finish(self, order: Order) -> None:
        self.live.pop(order.order_id, None)
        self._cost.pop(order.order_id, None)
        if not self.queries:
            return
        done = self.done.get(order.account)
        if done is None:
            done = self.done[order.account] = OrderedDict()
        done[order.order_id] = order
        key = (order.account, order.client_order_id)
        # A refused duplicate never takes over the id of the order that holds it.
        if order.client_order_id and order.reason != "DUPLICATE_CLIENT_ORDER_ID":
            self.by_client_id[key] = order.order_id
        while len(done) > DONE_KEPT:
            _, old = done.popitem(last=False)
            old_key = (old.account, old.client_order_id)
            if self.by_client_id.get(old_key) == old.order_id:
                self.by_client_id.pop(old_key)

    def _symbol(self, instr: int) -> str:
        specs = self.core.specs
        return specs[instr].symbol if 0 <= instr < len(specs) else ""

    # --- queries -------------------------------------------------------------------------------

    def order(self, account: int, order_id: int = 0, client_order_id: str = "") -> Order | None:
        if client_order_id:
            order_id = self.by_client_id.get((account, client_order_id), 0)
        order = self.live.get(order_id) or self.done.get(account, {}).get(order_id)
        return _copy(order) if order is not None and order.account == account else None

    def orders_of(self, account: int) -> list[Order]:
        """The account's open orders and those it finished in this run, newest first."""
        done = self.done.get(account, {})
        mine = [o for o in self.live.values() if o.account == account] + list(done.values())
        return sorted((_copy(o) for o in mine), key=lambda o: -o.order_id)

    def open_orders(self, account: int) -> list[Order]:
        return [_copy(o) for o in self.live.values() if o.account == account]

    def funds(self, account: int) -> AccountView:
        assert self.core.risk is not None
        return account_view(self.core.risk.account_state(account))

    def positions(self, account: int, marks: list[int] | None = None) -> Positions:
        assert self.core.risk is not None
        marks = marks or self._marks()
        out = []
        for row in self.core.risk.positions_of(account):
            v = position_view(row, marks)
            out.append(Position(
                v.account, self._symbol(v.instrument), v.instrument, v.product.name, v.net,
                v.average_price, v.basis, v.realised, v.unrealised, v.margin, v.open_buy,
                v.open_sell, v.day_buy_qty, v.day_sell_qty, v.overnight))
        return Positions(out)

    def _marks(self) -> list[int]:
        last = self.core.book.last_prices()
        return [price or spec.ref_price for price, spec in zip(last, self.core.specs,
                                                                strict=False)]


def _copy(order: Order) -> Order:
    return msgspec.structs.replace(order)


def _side(value: int) -> str:
    return Side(value).name if value in (Side.BUY, Side.SELL) else ""
