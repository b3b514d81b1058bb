"""Events out of the core: int64 rows inside, frozen msgspec Structs at the edges.

Every event carries the sequence number (``seq``) and time (``ts``) of the command that
caused it. Within one command, events come in a fixed order: the order's own lifecycle
(accepted / rejected), then trades, cancellations and expiries in the order they happened,
stop triggers and their trades, a halt if a band was hit, and finally one BOOK_CHANGED per
price level whose visible quantity or order count was touched, in first-touch order.

Row columns per kind (`engine.layout`), after KIND SEQ TS INSTR:

==============  =====  =====  =========  =====  =====  =======================================
kind            OID    ACCT   SIDE       PRICE  QTY    A..G
==============  =====  =====  =========  =====  =====  =======================================
ACCEPTED        order  acct   side       limit  qty    type tif trigger disclosed
                                                       flags+256*product protection-price stp
REJECTED        order  acct   side       price  qty    code command-kind
TRADED          trade  -      aggressor  price  qty    buy-order sell-order buy-acct sell-acct
                                                       buy-leaves sell-leaves
CANCELLED       order  acct   side       price  qty*   reason            (*quantity removed)
EXPIRED         order  acct   side       price  qty*   reason
AMENDED         order  acct   side       price  qty    leaves priority-kept trigger disclosed
TRIGGERED       order  acct   side       limit  leaves trigger type
RESTATED        order  acct   side       price  leaves reason
PHASE_CHANGED   -      -      -          -      -      phase previous reason
BOOK_CHANGED    -      -      side       price  qty    orders             (visible quantity)
AUCTION         -      -      -          price  qty    imbalance          (price 0: none found)
INSTR._ADDED    -      -      -          ref    -      band-lo band-hi tick lot levels
REFERENCE_SET   -      -      -          ref    -      band-lo band-hi
LEDGER          ref    client entry      price  qty    from to amount        (a balanced transfer)
LIMITS_SET      -      acct   -          -      -      credit max-value max-open max-long
                                                       max-short rate
MARGIN_CALL     -      acct   -          -      -      in-call equity maintenance unrealised
KILL_SWITCH_SET -      -      -          -      -      scope target on cancel
DAY_CLOSED      -      -      -          -      -      accounts-charged, day
ACCOUNT_CREATED -      acct   -          -      -      -
API_KEY_ADDED   -      acct   -          -      -      key-number scopes
API_KEY_REVOKED -      acct   -          -      -      key-number
USER_SET        -      acct   -          -      -      user-number role active
==============  =====  =====  =========  =====  =====  =======================================

A LEDGER row moves ``amount`` paise from one ledger account to another (`LedgerAccount`;
CLIENT is the cash account of the row's client account), so every entry balances by
construction and any balance is the sum of the entries that touch it.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from engine.codes import RejectCode
from engine.layout import (
    C_ACCT,
    C_INSTR,
    C_KIND,
    C_OID,
    C_PRICE,
    C_QTY,
    C_SEQ,
    C_SIDE,
    C_TS,
    E_A,
    E_ACCT,
    E_B,
    E_C,
    E_D,
    E_E,
    E_F,
    E_G,
    E_INSTR,
    E_KIND,
    E_OID,
    E_PRICE,
    E_QTY,
    E_SEQ,
    E_SIDE,
    E_TS,
    EVENT_WIDTH,
)
from engine.types import (
    CmdKind,
    EventKind,
    KillScope,
    LedgerAccount,
    LedgerEntry,
    OrderFlag,
    OrderType,
    Phase,
    Product,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)


class _Event(msgspec.Struct, frozen=True, tag_field="event"):
    """Base of all events; tagged so a union of them decodes from JSON or msgpack."""


class Accepted(_Event, tag="accepted"):
    seq: int
    ts: int
    instrument: int
    order_id: int
    account: int
    side: Side
    price: int
    qty: int
    type: OrderType
    tif: TimeInForce
    trigger: int
    disclosed: int
    post_only: bool
    protection: int
    stp: StpMode
    product: Product


class Rejected(_Event, tag="rejected"):
    seq: int
    ts: int
    instrument: int
    order_id: int
    account: int
    side: int
    price: int
    qty: int
    code: RejectCode
    command: CmdKind


class Traded(_Event, tag="traded"):
    seq: int
    ts: int
    instrument: int
    trade_id: int
    aggressor: int  # Side, or 2 for a call-auction print
    price: int
    qty: int
    buy_order_id: int
    sell_order_id: int
    buy_account: int
    sell_account: int
    buy_leaves: int
    sell_leaves: int


class Cancelled(_Event, tag="cancelled"):
    seq: int
    ts: int
    instrument: int
    order_id: int
    account: int
    side: Side
    price: int
    qty: int
    reason: Reason


class Expired(_Event, tag="expired"):
    seq: int
    ts: int
    instrument: int
    order_id: int
    account: int
    side: Side
    price: int
    qty: int
    reason: Reason


class Amended(_Event, tag="amended"):
    seq: int
    ts: int
    instrument: int
    order_id: int
    account: int
    side: Side
    price: int
    qty: int
    leaves: int
    priority_kept: bool
    trigger: int
    disclosed: int


class Triggered(_Event, tag="triggered"):
    seq: int
    ts: int
    instrument: int
    order_id: int
    account: int
    side: Side
    price: int
    leaves: int
    trigger: int
    type: OrderType


class Restated(_Event, tag="restated"):
    seq: int
    ts: int
    instrument: int
    order_id: int
    account: int
    side: Side
    price: int
    leaves: int
    reason: Reason


class PhaseChanged(_Event, tag="phase_changed"):
    seq: int
    ts: int
    instrument: int
    phase: Phase
    previous: Phase
    reason: Reason


class BookChanged(_Event, tag="book_changed"):
    seq: int
    ts: int
    instrument: int
    side: Side
    price: int
    qty: int
    orders: int


class AuctionResult(_Event, tag="auction"):
    seq: int
    ts: int
    instrument: int
    price: int
    qty: int
    imbalance: int


class InstrumentAdded(_Event, tag="instrument_added"):
    seq: int
    ts: int
    instrument: int
    ref_price: int
    band_lo: int
    band_hi: int
    tick: int
    lot: int
    levels: int


class ReferenceSet(_Event, tag="reference_set"):
    seq: int
    ts: int
    instrument: int
    ref_price: int
    band_lo: int
    band_hi: int


class LedgerPosted(_Event, tag="ledger"):
    seq: int
    ts: int
    instrument: int
    reference: int  # the trade id for trade entries
    account: int
    entry: LedgerEntry
    price: int
    qty: int
    debit: LedgerAccount  # the amount leaves this account ...
    credit: LedgerAccount  # ... and enters this one
    amount: int


class LimitsSet(_Event, tag="limits_set"):
    seq: int
    ts: int
    account: int
    credit: int
    max_order_value: int
    max_open_orders: int
    max_long: int
    max_short: int
    rate_per_s: int


class MarginCall(_Event, tag="margin_call"):
    seq: int
    ts: int
    account: int
    in_call: bool
    equity: int
    maintenance: int
    unrealised: int


class KillSwitchSet(_Event, tag="kill_switch_set"):
    seq: int
    ts: int
    scope: KillScope
    target: int
    on: bool
    cancel_resting: bool


class DayClosed(_Event, tag="day_closed"):
    seq: int
    ts: int
    accounts_charged: int
    day: int  # the trading day closed, YYYYMMDD (Indian time)


class AccountCreated(_Event, tag="account_created"):
    seq: int
    ts: int
    account: int


class ApiKeyAdded(_Event, tag="api_key_added"):
    seq: int
    ts: int
    account: int
    key_no: int
    scopes: int


class ApiKeyRevoked(_Event, tag="api_key_revoked"):
    seq: int
    ts: int
    account: int
    key_no: int


class UserSet(_Event, tag="user_set"):
    seq: int
    ts: int
    account: int
    user_no: int
    role: int  # index into accounts.registry.ROLES
    active: bool


Event = (
    Accepted | Rejected | Traded | Cancelled | Expired | Amended | Triggered | Restated
    | PhaseChanged | BookChanged | AuctionResult | InstrumentAdded | ReferenceSet | LedgerPosted
    | LimitsSet | MarginCall | KillSwitchSet | DayClosed | AccountCreated | ApiKeyAdded
    | ApiKeyRevoked
    | UserSet
)


def _accepted(r: list[int]) -> Accepted:
    return Accepted(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], Side(r[E_SIDE]), r[E_PRICE],
        r[E_QTY], OrderType(r[E_A]), TimeInForce(r[E_B]), r[E_C], r[E_D],
        bool(r[E_E] & OrderFlag.POST_ONLY), r[E_F], StpMode(r[E_G]), Product(r[E_E] >> 8),
    )


def _rejected(r: list[int]) -> Rejected:
    return Rejected(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], r[E_SIDE], r[E_PRICE], r[E_QTY],
        RejectCode(r[E_A]), CmdKind(r[E_B]),
    )


def _traded(r: list[int]) -> Traded:
    return Traded(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_SIDE], r[E_PRICE], r[E_QTY], r[E_A],
        r[E_B], r[E_C], r[E_D], r[E_E], r[E_F],
    )


def _cancelled(r: list[int]) -> Cancelled:
    return Cancelled(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], Side(r[E_SIDE]), r[E_PRICE],
        r[E_QTY], Reason(r[E_A]),
    )


def _expired(r: list[int]) -> Expired:
    return Expired(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], Side(r[E_SIDE]), r[E_PRICE],
        r[E_QTY], Reason(r[E_A]),
    )


def _amended(r: list[int]) -> Amended:
    return Amended(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], Side(r[E_SIDE]), r[E_PRICE],
        r[E_QTY], r[E_A], bool(r[E_B]), r[E_C], r[E_D],
    )


def _triggered(r: list[int]) -> Triggered:
    return Triggered(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], Side(r[E_SIDE]), r[E_PRICE],
        r[E_QTY], r[E_A], OrderType(r[E_B]),
    )


def _restated(r: list[int]) -> Restated:
    return Restated(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], Side(r[E_SIDE]), r[E_PRICE],
        r[E_QTY], Reason(r[E_A]),
    )


def _phase_changed(r: list[int]) -> PhaseChanged:
    return PhaseChanged(
        r[E_SEQ], r[E_TS], r[E_INSTR], Phase(r[E_A]), Phase(r[E_B]), Reason(r[E_C])
    )


def _book_changed(r: list[int]) -> BookChanged:
    return BookChanged(
        r[E_SEQ], r[E_TS], r[E_INSTR], Side(r[E_SIDE]), r[E_PRICE], r[E_QTY], r[E_A]
    )


def _auction(r: list[int]) -> AuctionResult:
    return AuctionResult(r[E_SEQ], r[E_TS], r[E_INSTR], r[E_PRICE], r[E_QTY], r[E_A])


def _instrument_added(r: list[int]) -> InstrumentAdded:
    return InstrumentAdded(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_PRICE], r[E_A], r[E_B], r[E_C], r[E_D], r[E_E]
    )


def _reference_set(r: list[int]) -> ReferenceSet:
    return ReferenceSet(r[E_SEQ], r[E_TS], r[E_INSTR], r[E_PRICE], r[E_A], r[E_B])


def _ledger(r: list[int]) -> LedgerPosted:
    return LedgerPosted(
        r[E_SEQ], r[E_TS], r[E_INSTR], r[E_OID], r[E_ACCT], LedgerEntry(r[E_SIDE]), r[E_PRICE],
        r[E_QTY], LedgerAccount(r[E_A]), LedgerAccount(r[E_B]), r[E_C],
    )


def _limits_set(r: list[int]) -> LimitsSet:
    return LimitsSet(r[E_SEQ], r[E_TS], r[E_ACCT], r[E_A], r[E_B], r[E_C], r[E_D], r[E_E],
                     r[E_F])


def _margin_call(r: list[int]) -> MarginCall:
    return MarginCall(r[E_SEQ], r[E_TS], r[E_ACCT], bool(r[E_A]), r[E_B], r[E_C], r[E_D])


def _kill_switch_set(r: list[int]) -> KillSwitchSet:
    return KillSwitchSet(r[E_SEQ], r[E_TS], KillScope(r[E_A]), r[E_B], bool(r[E_C]),
                         bool(r[E_D]))


def _day_closed(r: list[int]) -> DayClosed:
    return DayClosed(r[E_SEQ], r[E_TS], r[E_A], r[E_B])


def _account_created(r: list[int]) -> AccountCreated:
    return AccountCreated(r[E_SEQ], r[E_TS], r[E_ACCT])


def _api_key_added(r: list[int]) -> ApiKeyAdded:
    return ApiKeyAdded(r[E_SEQ], r[E_TS], r[E_ACCT], r[E_A], r[E_B])


def _api_key_revoked(r: list[int]) -> ApiKeyRevoked:
    return ApiKeyRevoked(r[E_SEQ], r[E_TS], r[E_ACCT], r[E_A])


def _user_set(r: list[int]) -> UserSet:
    return UserSet(r[E_SEQ], r[E_TS], r[E_ACCT], r[E_A], r[E_B], bool(r[E_C]))


DECODERS: dict[int, Callable[[list[int]], Event]] = {
    EventKind.ACCEPTED: _accepted,
    EventKind.REJECTED: _rejected,
    EventKind.TRADED: _traded,
    EventKind.CANCELLED: _cancelled,
    EventKind.EXPIRED: _expired,
    EventKind.AMENDED: _amended,
    EventKind.TRIGGERED: _triggered,
    EventKind.RESTATED: _restated,
    EventKind.PHASE_CHANGED: _phase_changed,
    EventKind.BOOK_CHANGED: _book_changed,
    EventKind.AUCTION: _auction,
    EventKind.INSTRUMENT_ADDED: _instrument_added,
    EventKind.REFERENCE_SET: _reference_set,
    EventKind.LEDGER: _ledger,
    EventKind.LIMITS_SET: _limits_set,
    EventKind.MARGIN_CALL: _margin_call,
    EventKind.KILL_SWITCH_SET: _kill_switch_set,
    EventKind.DAY_CLOSED: _day_closed,
    EventKind.ACCOUNT_CREATED: _account_created,
    EventKind.API_KEY_ADDED: _api_key_added,
    EventKind.API_KEY_REVOKED: _api_key_revoked,
    EventKind.USER_SET: _user_set,
}


def decode_row(row: list[int]) -> Event:
    return DECODERS[row[E_KIND]](row)


def decode(rows: np.ndarray) -> list[Event]:
    """Structs for a block of event rows (the edges call this; the core never does)."""
    return [decode_row(row) for row in rows.tolist()]


def event_row(kind: int, seq: int, ts: int, instrument: int, **cols: int) -> np.ndarray:
    """Build one event row by column name (used by the Python-side command handlers)."""
    row = np.zeros(EVENT_WIDTH, dtype=np.int64)
    row[E_KIND], row[E_SEQ], row[E_TS], row[E_INSTR] = kind, seq, ts, instrument
    names = {
        "oid": E_OID, "acct": E_ACCT, "side": E_SIDE, "price": E_PRICE, "qty": E_QTY,
        "a": E_A, "b": E_B, "c": E_C, "d": E_D, "e": E_E, "f": E_F, "g": E_G,
    }
    for name, value in cols.items():
        row[names[name]] = value
    return row


def rejection(row: np.ndarray, code: int) -> np.ndarray:
    """`rejection_row` as the one-row event array a command handler returns."""
    return rejection_row(row, code)[None, :]


def rejection_row(row: np.ndarray, code: int) -> np.ndarray:
    """A REJECTED event row for a command handled in Python, echoing its identifying columns."""
    return event_row(
        EventKind.REJECTED, int(row[C_SEQ]), int(row[C_TS]), int(row[C_INSTR]),
        oid=int(row[C_OID]), acct=int(row[C_ACCT]), side=int(row[C_SIDE]),
        price=int(row[C_PRICE]), qty=int(row[C_QTY]), a=int(code), b=int(row[C_KIND]),
    )
