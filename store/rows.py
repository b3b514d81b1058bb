"""The rows each batch of the core's events adds to the history tables (no I/O).

Order records and fills come from the same tracker the WebSocket feeds use
(`gateway.private.AccountFeeds`), run on the projector's own copy of the core, so the history
says exactly what clients were told; ledger entries come straight from the LEDGER events;
positions are every position row of each account the batch touched, as they stood after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

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
    EV_DAY_CLOSED,
    EV_LEDGER,
    EV_TRADED,
    LA_CLIENT,
)
from engine.types import EventKind, LedgerEntry
from gateway.private import AccountFeeds, Fill, Order, Positions
from portfolio.views import account_view
from risk.state import POSITION_FIELDS

REGISTRY_EVENTS = {int(EventKind.ACCOUNT_CREATED), int(EventKind.API_KEY_ADDED),
                   int(EventKind.API_KEY_REVOKED)}
EV_USER_SET = int(EventKind.USER_SET)
_ENTRIES = {int(e): e.name for e in LedgerEntry}

ORDER_COLUMNS = ("order_id", "account", "client_order_id", "symbol", "side", "type", "tif",
                 "product", "price", "trigger", "qty", "filled", "leaves", "average_price",
                 "status", "reason", "created_ts", "updated_ts", "seq")
ORDER_EVENT_COLUMNS = ("seq", "n", "order_id", "account", "status", "price", "trigger", "qty",
                       "filled", "leaves", "average_price", "reason", "ts")
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
    _counters: dict[tuple[str, int], int] = field(default_factory=dict)

    def count(self) -> int:
        return (len(self.orders) + len(self.order_events) + len(self.fills) + len(self.ledger)
                + len(self.positions) + len(self.accounts) + len(self.keys) + len(self.users))

    def next_n(self, table: str, seq: int) -> int:
        """The next row number of a table within one sequence number: (seq, n) is its key."""
        n = self._counters.get((table, seq), 0)
        self._counters[(table, seq)] = n + 1
        return n


class Tracker:
    """What the projection remembers between batches: every order (for whole order records)
    and which position rows each account had, so a row that disappears from the core (a flat
    position dropped at the day's close) gets a closing all-zero snapshot."""

    def __init__(self, core: Core) -> None:
        self.feeds = AccountFeeds(core)
        self.cash: dict[int, int] = {}  # the client's cash after its last entry, by account
        self.held: dict[int, set[tuple[str, str]]] = {}
        if core.risk is not None:
            for row in core.risk.state().accounts.tolist():
                view = account_view(row)
                if view.cash:
                    self.cash[view.account] = view.cash
            column = POSITION_FIELDS.index("acct")
            for account in sorted({row[column] for row in core.risk.state().positions.tolist()}):
                self.held[account] = _keys(self.feeds.positions(account))

    def add(self, rows: Rows, core: Core, batch: CommandBatch, events: np.ndarray) -> None:
        """Add what one applied batch caused (``core`` is already past it)."""
        event_rows = events.tolist()
        trade_seq = {r[E_OID]: r[E_SEQ] for r in event_rows if r[E_KIND] == EV_TRADED}
        last_ts = int(batch.rows[-1, C_TS]) if len(batch) else 0
        seen: set[int] = set()
        for account, channel, payload in self.feeds.apply(batch, event_rows):
            if channel == "orders" and isinstance(payload, Order):
                _order(rows, payload)
            elif channel == "fills" and isinstance(payload, Fill):
                rows.fills.append((payload.trade_id, payload.order_id, account,
                                   payload.client_order_id, payload.symbol, payload.side,
                                   payload.price, payload.qty, payload.liquidity, payload.ts,
                                   trade_seq.get(payload.trade_id, batch.last_seq)))
            elif channel == "positions" and isinstance(payload, Positions):
                self._positions(rows, account, payload, batch.last_seq, last_ts)
                seen.add(account)
        closed_day = False
        for r in event_rows:
            kind = r[E_KIND]
            if kind == EV_LEDGER:
                self._ledger(rows, r)
            elif kind in REGISTRY_EVENTS:
                _registry(rows, core, r[E_ACCT], r[E_TS])
            elif kind == EV_DAY_CLOSED:
                closed_day = True
            elif kind == EV_USER_SET:
                _user(rows, core, r[E_A])
        if closed_day:  # the close rolls every position, touched by its events or not
            for account in sorted(set(self.held) - seen):
                self._positions(rows, account, self.feeds.positions(account), batch.last_seq,
                                last_ts)

    def _ledger(self, rows: Rows, r: list[int]) -> None:
        seq, account, source, target, amount = r[E_SEQ], r[E_ACCT], r[E_A], r[E_B], r[E_C]
        change = (amount if target == LA_CLIENT else 0) - (amount if source == LA_CLIENT else 0)
        balance = self.cash[account] = self.cash.get(account, 0) + change
        rows.ledger.append((seq, rows.next_n("ledger", seq), account,
                            _ENTRIES.get(r[E_SIDE], str(r[E_SIDE])), source, target, amount,
                            r[E_OID], r[E_TS], balance))

    def _positions(self, rows: Rows, account: int, payload: Positions, seq: int,
                   ts: int) -> None:
        for p in payload.positions:
            rows.positions.append((account, p.symbol, p.product, seq, ts, p.net,
                                   p.average_price, p.basis, p.realised, p.margin, p.open_buy,
                                   p.open_sell, p.day_buy_qty, p.day_sell_qty, p.overnight))
        now = _keys(payload)
        for symbol, product in sorted(self.held.get(account, set()) - now):
            rows.positions.append((account, symbol, product, seq, ts, *([0] * 10)))
        if now:
            self.held[account] = now
        else:
            self.held.pop(account, None)


def _keys(payload: Positions) -> set[tuple[str, str]]:
    return {(p.symbol, p.product) for p in payload.positions}


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


def _order(rows: Rows, o: Order) -> None:
    rows.orders[o.order_id] = (o.order_id, o.account, o.client_order_id, o.symbol, o.side,
                               o.type, o.tif, o.product, o.price, o.trigger, o.qty, o.filled,
                               o.leaves, o.average_price, o.status, o.reason, o.created_ts,
                               o.updated_ts, o.seq)
    n = rows.next_n("order_events", o.seq)
    rows.order_events.append((o.seq, n, o.order_id, o.account, o.status, o.price, o.trigger,
                              o.qty, o.filled, o.leaves, o.average_price, o.reason,
                              o.updated_ts))
