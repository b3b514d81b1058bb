"""The messages GridWorks publishes to Kafka: versioned msgspec types, one per topic.

Every message carries ``v`` (its schema version, bumped on any change that is not an added
field with a default), and ``seq`` and ``ts``: the core sequence number and time of the
command that caused it. Prices and amounts are integer paise, quantities integer units,
times ns since the epoch, enums by name. The same types encode as JSON or msgpack.

Topics (keys in brackets; per-key order holds):

| topic | message | key |
| --- | --- | --- |
| orders.created | `OrderCreated` | account |
| orders.executed | `OrderExecuted` (one per side of a trade) | account |
| orders.cancelled | `OrderCancelled` (cancelled or expired) | account |
| orders.amended | `OrderAmended` | account |
| orders.rejected | `OrderRejected` | account |
| positions.updated | `PositionUpdated` (the position after a batch) | account |
| users.registered | `AccountRegistered`, `UserSet` | account |
| audit.keys | `KeyChanged` | account |
| audit.funds | `LedgerPosted` | account |
| audit.risk | `LimitsSet`, `MarginCall`, `KillSwitchSet` | account (or "all") |
| audit.market | `PhaseChanged`, `DayClosed` | symbol (or "all") |
| marketdata.trades | `TradePrinted` | symbol |
| marketdata.candles | `CandleClosed` (one-minute bars) | symbol |
"""

from __future__ import annotations

import msgspec


class Message(msgspec.Struct, frozen=True, kw_only=True, tag_field="type"):
    v: int = 1
    seq: int
    ts: int


class OrderCreated(Message, tag="order.created"):
    order_id: int
    client_order_id: str
    account: int
    symbol: str
    side: str
    order_type: str
    tif: str
    product: str
    price: int
    trigger: int
    qty: int
    disclosed: int
    post_only: bool


class OrderExecuted(Message, tag="order.executed"):
    trade_id: int
    order_id: int
    client_order_id: str
    account: int
    symbol: str
    side: str
    price: int
    qty: int
    leaves: int
    liquidity: str  # maker, taker or auction


class OrderCancelled(Message, tag="order.cancelled"):
    order_id: int
    client_order_id: str
    account: int
    symbol: str
    status: str  # CANCELLED or EXPIRED
    reason: str
    qty: int  # the quantity removed


class OrderAmended(Message, tag="order.amended"):
    order_id: int
    client_order_id: str
    account: int
    symbol: str
    price: int
    qty: int
    leaves: int
    trigger: int
    disclosed: int
    priority_kept: bool


class OrderRejected(Message, tag="order.rejected"):
    order_id: int
    client_order_id: str
    account: int
    symbol: str
    command: str  # NEW_ORDER, AMEND, CANCEL, ...
    code: str
    side: str
    price: int
    qty: int


class PositionUpdated(Message, tag="position.updated"):
    """A position's state after a batch of commands: the newest ``seq`` wins (the topic is
    a state feed: compaction by key keeps the latest)."""

    account: int
    symbol: str
    product: str
    net: int
    average_price: int
    basis: int
    realised: int
    margin: int
    day_buy_qty: int
    day_sell_qty: int


class AccountRegistered(Message, tag="account.registered"):
    account: int
    name: str


class UserSet(Message, tag="user.set"):
    account: int
    username: str
    role: str
    active: bool


class KeyChanged(Message, tag="key.changed"):
    account: int
    key_id: str
    change: str  # added or revoked
    scopes: list[str]


class LedgerPosted(Message, tag="ledger.posted"):
    account: int
    entry: str  # TRADE_VALUE, REALISED_PNL, CHARGES, DEPOSIT, WITHDRAWAL
    debit: str  # the ledger accounts the amount moved from and to
    credit: str
    amount: int
    reference: int  # the trade or command it belongs to
    symbol: str


class LimitsSet(Message, tag="limits.set"):
    account: int
    credit: int
    max_order_value: int
    max_open_orders: int
    max_long: int
    max_short: int
    rate_per_s: int


class MarginCall(Message, tag="margin.call"):
    account: int
    in_call: bool
    equity: int
    maintenance: int
    unrealised: int


class KillSwitchSet(Message, tag="kill_switch.set"):
    scope: str
    target: int
    on: bool
    cancel: bool


class PhaseChanged(Message, tag="phase.changed"):
    symbol: str
    phase: str
    previous: str
    reason: str


class DayClosed(Message, tag="day.closed"):
    accounts_charged: int
    day: int


class TradePrinted(Message, tag="trade.printed"):
    trade_id: int
    symbol: str
    price: int
    qty: int
    aggressor: str  # buy, sell or auction
    buy_order_id: int
    sell_order_id: int


class CandleClosed(Message, tag="candle.closed"):
    """A one-minute bar, published when the first trade of a later minute arrives. A bar
    that began before the publisher's last restart point is ``complete=False``."""

    symbol: str
    start: int  # ns, aligned to the minute
    open: int
    high: int
    low: int
    close: int
    volume: int
    trades: int
    complete: bool = True


Any = (OrderCreated | OrderExecuted | OrderCancelled | OrderAmended | OrderRejected
       | PositionUpdated | AccountRegistered | UserSet | KeyChanged | LedgerPosted | LimitsSet
       | MarginCall | KillSwitchSet | PhaseChanged | DayClosed | TradePrinted | CandleClosed)

TOPICS: dict[type[Message], str] = {
    OrderCreated: "orders.created", OrderExecuted: "orders.executed",
    OrderCancelled: "orders.cancelled", OrderAmended: "orders.amended",
    OrderRejected: "orders.rejected", PositionUpdated: "positions.updated",
    AccountRegistered: "users.registered", UserSet: "users.registered",
    KeyChanged: "audit.keys", LedgerPosted: "audit.funds", LimitsSet: "audit.risk",
    MarginCall: "audit.risk", KillSwitchSet: "audit.risk", PhaseChanged: "audit.market",
    DayClosed: "audit.market", TradePrinted: "marketdata.trades",
    CandleClosed: "marketdata.candles",
}
