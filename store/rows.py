"""The rows each batch of the core's events adds to the history tables (no I/O).

Order records and fills come from the same tracker the WebSocket feeds use
(`gateway.private.AccountFeeds`), run on the projector's own copy of the core, so the history
says exactly what clients were told; ledger entries come straight from the LEDGER events;
positions are every position row of each account the batch touched, as they stood after it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np
from msgspec.structs import astuple

from engine.commands import CommandBatch
from engine.core import Core
from engine.layout import (
    C_TS,
    E_A,
    E_ACCT,
    E_B,
    E_C,
    E_KIND,
    E_OID,
    E_SEQ,
    E_SIDE,
    E_TS,
    EV_ACCEPTED,
    EV_DAY_CLOSED,
    EV_LEDGER,
    EV_REJECTED,
    EV_TRADED,
    K_NEW_ORDER,
    LA_CLIENT,
)
from engine.types import EventKind, LedgerEntry, Product
from gateway.private import AccountFeeds, Fill, Order
from portfolio.views import account_view
from risk.state import POSITION_FIELDS

REGISTRY_EVENTS = {int(EventKind.ACCOUNT_CREATED), int(EventKind.API_KEY_ADDED),
                   int(EventKind.API_KEY_REVOKED)}
EV_USER_SET = int(EventKind.USER_SET)
_ENTRIES = {int(e): e.name for e in LedgerEntry}

# An order row is the order record's fields in their own order (`msgspec.structs.astuple`);
# an order event takes some of them, then its number within the seq.
ORDER_COLUMNS: tuple[str, ...] = Order.__struct_fields__
_EVENT_FIELDS = ("seq", "order_id", "account", "status", "price", "trigger", "qty", "filled",
                 "leaves", "average_price", "reason", "updated_ts")
ORDER_EVENT_COLUMNS = (*_EVENT_FIELDS[:-1], "ts", "n")
_event_fields = operator.itemgetter(*(ORDER_COLUMNS.index(f) for f in _EVENT_FIELDS))
_ORDER_ID, _SEQ = ORDER_COLUMNS.index("order_id"), ORDER_COLUMNS.index("seq")
FILL_COLUMNS = ("trade_id", "order_id", "account", "client_order_id", "symbol", "side", "price",
                "qty", "liquidity", "ts", "seq")
LEDGER_COLUMNS = ("seq", "n", "account", "entry", "from_account", "to_account", "amount", "ref",
                  "ts", "balance")
ACCOUNT_COLUMNS = ("account", "name", "created_seq", "created_ts")
USER_COLUMNS = ("username", "account", "role", "active", "created_seq", "updated_seq")
KEY_COLUMNS = ("account", "key_number", "key_id", "label", "scopes", "active", "added_seq",
               "revoked_seq")
POSITION_COLUMNS = ("account", "symbol", "product", "seq", "ts", "net", "average_price", "basis",
                    "realised", "margin", "open_buy", "open_sell", "day_buy_qty", "day_sell_qty",
                    "overnight")


@dataclass
class Rows:
    """What a run of batches adds, in table order; ``orders`` holds each order's latest."""

    orders: dict[int, tuple] = field(default_factory=dict)
    order_events: list[tuple] = field(default_factory=list)
    fills: list[tuple] = field(default_factory=list)
    ledger: list[tuple] = field(default_factory=list)
    positions: list[tuple] = field(default_factory=list)
    accounts: dict[int, tuple] = field(default_factory=dict)  # users.accounts rows
    keys: dict[str, tuple] = field(default_factory=dict)  # users.api_keys rows, by key id
    users: dict[str, tuple] = field(default_factory=dict)  # users.users rows, by user name
    created: set[int] = field(default_factory=set)  # orders placed within these rows
    _last: dict[str, tuple[int, int]] = field(default_factory=dict)  # table: (seq, n)

    def count(self) -> int:
        return (len(self.orders) + len(self.order_events) + len(self.fills) + len(self.ledger)
                + len(self.positions) + len(self.accounts) + len(self.keys) + len(self.users))

    def next_n(self, table: str, seq: int) -> int:
        """The next row number of a table within one sequence number: (seq, n) is its key.
        Rows come in sequence order, so only the table's latest seq needs a count."""
        last, n = self._last.get(table, (-1, -1))
        if seq < last:
            raise ValueError(f"{table} rows out of sequence order: {seq} after {last}")
        n = n + 1 if seq == last else 0
        self._last[table] = (seq, n)
        return n

    def new_and_changed_orders(self) -> tuple[list[tuple], list[tuple]]:
        """The order rows placed within these rows (not in the database yet) and those of
        orders placed before them."""
        new: list[tuple] = []
        changed: list[tuple] = []
        for order_id, row in self.orders.items():
            (new if order_id in self.created else changed).append(row)
        return new, changed


class Tracker:
    """What the projection remembers between batches: every order (for whole order records)
    and which position rows exist, so a row that disappears from the core (a flat position
    dropped at the day's close, the only time rows go) gets a closing all-zero snapshot."""

    def __init__(self, core: Core) -> None:
        self.feeds = AccountFeeds(core, record=astuple, queries=False)  # updates as rows
        self.cash: dict[int, int] = {}  # the client's cash after its last entry, by account
        self.held: set[tuple[int, int, int]] = set()  # (account, instrument, product)
        self.symbols: list[str] = []  # by instrument id, grown as instruments are added
        if core.risk is not None:
            state = core.risk.state()
            for row in state.accounts.tolist():
                view = account_view(row)
                if view.cash:
                    self.cash[view.account] = view.cash
            self.held = set(map(tuple, state.positions[:, :3].tolist()))

    def add(self, rows: Rows, core: Core, batch: CommandBatch, events: np.ndarray) -> None:
        """Add what one applied batch caused (``core`` is already past it)."""
        event_rows = events.tolist()
        trade_seq = {r[E_OID]: r[E_SEQ] for r in event_rows if r[E_KIND] == EV_TRADED}
        last_ts = int(batch.rows[-1, C_TS]) if len(batch) else 0
        touched: list[int] = []
        for account, channel, payload in self.feeds.apply(batch, event_rows, _unwanted):
            if channel == "orders" and isinstance(payload, tuple):
                _order(rows, payload)
            elif channel == "fills" and isinstance(payload, Fill):
                rows.fills.append((payload.trade_id, payload.order_id, account,
                                   payload.client_order_id, payload.symbol, payload.side,
                                   payload.price, payload.qty, payload.liquidity, payload.ts,
                                   trade_seq.get(payload.trade_id, batch.last_seq)))
            elif channel == "positions":
                touched.append(account)
        closed_day = False
        for r in event_rows:
            kind = r[E_KIND]
            if kind == EV_ACCEPTED or (kind == EV_REJECTED and r[E_B] == K_NEW_ORDER):
                rows.created.add(r[E_OID])
            elif kind == EV_LEDGER:
                self._ledger(rows, r)
            elif kind in REGISTRY_EVENTS:
                _registry(rows, core, r[E_ACCT], r[E_TS])
            elif kind == EV_DAY_CLOSED:
                closed_day = True
            elif kind == EV_USER_SET:
                _user(rows, core, r[E_A])
        if closed_day:  # the close rolls every position, touched by its events or not
            touched = sorted(set(touched) | {key[0] for key in self.held})
        if touched and core.risk is not None:
            self._positions(rows, core, touched, closed_day, batch.last_seq, last_ts)

    def _ledger(self, rows: Rows, r: list[int]) -> None:
        seq, account, source, target, amount = r[E_SEQ], r[E_ACCT], r[E_A], r[E_B], r[E_C]
        change = (amount if target == LA_CLIENT else 0) - (amount if source == LA_CLIENT else 0)
        balance = self.cash[account] = self.cash.get(account, 0) + change
        rows.ledger.append((seq, rows.next_n("ledger", seq), account,
                            _ENTRIES.get(r[E_SIDE], str(r[E_SIDE])), source, target, amount,
                            r[E_OID], r[E_TS], balance))

    def _positions(self, rows: Rows, core: Core, accounts: list[int], closed_day: bool,
                   seq: int, ts: int) -> None:
        """A snapshot of every position row of ``accounts`` as the batch left them, built
        from the risk table in one step; after a close, zeros for the rows it dropped."""
        assert core.risk is not None
        table = core.risk.positions_of_accounts(np.array(accounts, dtype=np.int64))
        keys = list(map(tuple, table[:, :3].tolist()))
        values = _snapshot_values(table, seq, ts).tolist()
        if len(self.symbols) != len(core.specs):
            self.symbols = [spec.symbol for spec in core.specs]
        symbols, append = self.symbols, rows.positions.append
        for (account, instr, product), value in zip(keys, values, strict=True):
            append((account, symbols[instr], _PRODUCTS[product], *value))
        if closed_day:
            for account, instr, product in sorted(self.held - set(keys)):
                append((account, symbols[instr], _PRODUCTS[product], seq, ts, *([0] * 10)))
            self.held = set(keys)
        else:
            self.held.update(keys)


_PRODUCTS = {int(p): p.name for p in Product}
_UNREALISED_FREE = ("net", "basis", "realised", "margin", "open_buy", "open_sell",
                    "day_buy_qty", "day_sell_qty", "overnight")
_COLUMN = {name: POSITION_FIELDS.index(name) for name in _UNREALISED_FREE}


def _unwanted(channel: str, account: int) -> bool:
    return False  # funds and positions are built here, from the risk table, all at once


def _snapshot_values(table: np.ndarray, seq: int, ts: int) -> np.ndarray:
    """The columns of `POSITION_COLUMNS` after the key, for position rows of the risk table
    (the average price and basis as `portfolio.views.position_view` gives them)."""
    c = {name: table[:, i] for name, i in _COLUMN.items()}
    net, basis = c["net"], c["basis"]
    flat = net == 0
    size = np.where(flat, 1, np.abs(net))
    average = (2 * np.abs(basis) + size) // (2 * size)
    average = np.where((basis < 0) != (net < 0), -average, average)
    average[flat] = 0
    n = len(table)
    return np.column_stack((
        np.full(n, seq, dtype=np.int64), np.full(n, ts, dtype=np.int64), net, average,
        np.where(flat, 0, basis), c["realised"], c["margin"], c["open_buy"], c["open_sell"],
        c["day_buy_qty"], c["day_sell_qty"], c["overnight"]))


def _user(rows: Rows, core: Core, user_no: int) -> None:
    for name, record in core.registry.users.items():
        if record.user_no == user_no:
            g = record.grant
            rows.users[name] = (name, g.account, g.role, g.active, record.created_seq,
                                record.updated_seq)
            return


def _registry(rows: Rows, core: Core, account: int, ts: int) -> None:
    """The account and its keys as the registry holds them after the batch."""
    record = core.registry.accounts.get(account)
    if record is None:
        return
    known = rows.accounts.get(account)
    created_ts = known[3] if known else ts
    rows.accounts[account] = (account, record.name, record.created_seq, created_ts)
    for key in core.registry.keys_of(account):
        rows.keys[key.grant.key_id] = (account, key.key_no, key.grant.key_id, key.grant.label,
                                       key.grant.scopes, key.active, key.created_seq,
                                       key.revoked_seq or None)


def _order(rows: Rows, row: tuple) -> None:
    """An order's row as an update left it, and the row of that change."""
    rows.orders[row[_ORDER_ID]] = row
    rows.order_events.append((*_event_fields(row), rows.next_n("order_events", row[_SEQ])))
