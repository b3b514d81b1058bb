"""The operations' arguments and their translation to core commands and back.

Prices and amounts are integer paise and quantities integer units, as in the core; enums
are lowercase strings. A client order id is mandatory on every new order: it makes a retry
after a lost reply safe (the core refuses a second order with the same id) and lets the
client ask what became of the order.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

import msgspec
import numpy as np

from engine.codes import RejectCode
from engine.commands import Amend, Cancel, CancelAll, NewOrder
from engine.layout import (
    E_A,
    E_B,
    E_E,
    E_F,
    E_KIND,
    E_OID,
    E_QTY,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_REJECTED,
    EV_TRADED,
)
from engine.types import ALL_INSTRUMENTS, OrderType, Product, Side, StpMode, TimeInForce
from gateway.errors import ApiError, GatewayCode

ClientOrderId = Annotated[str, msgspec.Meta(min_length=1, max_length=36,
                                            pattern=r"^[A-Za-z0-9_.:-]+\Z")]
# Integers stay inside what every client language holds exactly (JavaScript: 2**53 - 1) and
# what the core's int64 columns hold; the core then checks ticks, bands, lots and freezes.
MAX_INT = 2**53 - 1
Paise = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]
Quantity = Annotated[int, msgspec.Meta(gt=0, le=MAX_INT)]
Whole = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT)]

def _spellings(values: dict[str, Any]) -> dict[str, Any]:
    """Each name as requests spell it (lower case) and as records print it (the enum's upper
    case name, SL_M for sl-m), so a value read from a record can be sent back as it is."""
    out = dict(values)
    for name, value in values.items():
        out[name.upper()] = out[value.name] = value
    return out


SIDES = _spellings({"buy": Side.BUY, "sell": Side.SELL})
TYPES = _spellings({"limit": OrderType.LIMIT, "market": OrderType.MARKET, "sl": OrderType.SL,
                    "sl-m": OrderType.SL_M})
TIFS = _spellings({"day": TimeInForce.DAY, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK})
PRODUCTS = _spellings({"cnc": Product.CNC, "mis": Product.MIS, "nrml": Product.NRML})
STOP_TYPES = (int(OrderType.SL), int(OrderType.SL_M))
STPS = {"cancel_resting": StpMode.CANCEL_RESTING, "cancel_incoming": StpMode.CANCEL_INCOMING,
        "cancel_both": StpMode.CANCEL_BOTH}


class Args(msgspec.Struct, forbid_unknown_fields=True):
    pass


class PlaceArgs(Args):
    symbol: str
    side: Literal["buy", "sell", "BUY", "SELL"]
    qty: Quantity
    client_order_id: ClientOrderId
    type: Literal["limit", "market", "sl", "sl-m",
                  "LIMIT", "MARKET", "SL", "SL-M", "SL_M"] = "limit"
    price: Paise = 0
    trigger: Paise = 0
    tif: Literal["day", "ioc", "fok", "DAY", "IOC", "FOK"] = "day"
    product: Literal["cnc", "mis", "nrml", "CNC", "MIS", "NRML"] = "mis"
    disclosed: Paise = 0
    post_only: bool = False
    stp: Literal["cancel_resting", "cancel_incoming", "cancel_both"] | None = None


class OrderRef(Args):
    order_id: Whole = 0
    client_order_id: ClientOrderId | None = None


class AmendArgs(OrderRef):
    price: Paise = 0  # 0 keeps it
    qty: Whole = 0  # the new total quantity; 0 keeps it
    trigger: Paise = 0
    disclosed: Annotated[int, msgspec.Meta(ge=-1, le=MAX_INT)] = -1  # -1 keeps it, 0 removes it


class CancelAllArgs(Args):
    symbol: str | None = None


class SubscribeArgs(Args):
    channels: Annotated[list[str], msgspec.Meta(min_length=1, max_length=200)]
    resume: dict[str, int] = {}  # channel -> last sequence number seen
    epoch: Whole = 0  # the gateway run those numbers came from (in replies and heartbeats)


class UnsubscribeArgs(Args):
    channels: Annotated[list[str], msgspec.Meta(min_length=1, max_length=200)]


class NoArgs(Args):
    pass


T = TypeVar("T", bound=Args)


def parse(args: dict, kind: type[T]) -> T:
    try:
        return msgspec.convert(args, kind)
    except msgspec.ValidationError as exc:
        raise ApiError(GatewayCode.INVALID_ARGS, str(exc)) from None


def ref(args: OrderRef) -> tuple[int, str]:
    if not args.order_id and not args.client_order_id:
        raise ApiError(GatewayCode.INVALID_ARGS, "give order_id or client_order_id")
    return args.order_id, args.client_order_id or ""


def new_order(account: int, instrument: int, a: PlaceArgs) -> NewOrder:
    return NewOrder(
        account=account, instrument=instrument, side=SIDES[a.side], qty=a.qty, price=a.price,
        type=TYPES[a.type], tif=TIFS[a.tif], trigger=a.trigger, disclosed=a.disclosed,
        post_only=a.post_only, stp=STPS[a.stp] if a.stp else StpMode.DEFAULT,
        client_order_id=a.client_order_id, product=PRODUCTS[a.product],
    )


def amend(account: int, a: AmendArgs) -> Amend:
    order_id, client_id = ref(a)
    return Amend(account, order_id=order_id, client_order_id=client_id, price=a.price,
                 qty=a.qty, trigger=a.trigger, disclosed=a.disclosed)


def cancel(account: int, a: OrderRef) -> Cancel:
    order_id, client_id = ref(a)
    return Cancel(account, order_id=order_id, client_order_id=client_id)


def cancel_all(account: int, instrument: int | None) -> CancelAll:
    return CancelAll(account, ALL_INSTRUMENTS if instrument is None else instrument)


class Outcome(msgspec.Struct, omit_defaults=True):
    """The result of place, amend and cancel (what `outcome` returns, as a schema)."""

    order_id: int
    status: Literal["OPEN", "TRIGGER_PENDING", "PARTIALLY_FILLED", "FILLED", "AMENDED",
                    "CANCELLED", "EXPIRED", "DONE"]
    filled: int
    leaves: int
    cancelled: int
    client_order_id: str | None = None


def cancelled_ids(events: np.ndarray) -> list[int]:
    """The orders a cancel-all cancelled, or `ApiError` if the core rejected it."""
    rows = events.tolist()
    raise_if_rejected(rows)
    return [r[E_OID] for r in rows if r[E_KIND] == EV_CANCELLED]


def raise_if_rejected(rows: list[list[int]], **detail: object) -> None:
    """`ApiError` with the core's code if it rejected the command these events answer."""
    for r in rows:
        if r[E_KIND] == EV_REJECTED:
            raise ApiError(RejectCode(r[E_A]), **detail)


def outcome(events: np.ndarray, client_order_id: str = "") -> dict:
    """The result of one order command, or `ApiError` if the core rejected it. Reads the
    receipt's event rows directly: this runs once per order, on the reply's path."""
    rows = events.tolist()
    for r in rows:
        if r[E_KIND] == EV_REJECTED:
            raise ApiError(RejectCode(r[E_A]), order_id=r[E_OID],
                           client_order_id=client_order_id or None)
    order_id, status, filled, leaves, cancelled = 0, "DONE", 0, 0, 0
    for r in rows:
        kind = r[E_KIND]
        if kind == EV_ACCEPTED:
            order_id, leaves = r[E_OID], r[E_QTY]
            status = "TRIGGER_PENDING" if r[E_A] in STOP_TYPES else "OPEN"
        elif kind == EV_AMENDED:
            order_id, status, leaves = r[E_OID], "AMENDED", r[E_A]
        elif kind == EV_TRADED and order_id in (r[E_A], r[E_B]):
            filled += r[E_QTY]
            leaves = r[E_E] if r[E_A] == order_id else r[E_F]
            status = "FILLED" if leaves == 0 else "PARTIALLY_FILLED"
        elif kind in (EV_CANCELLED, EV_EXPIRED) and order_id in (0, r[E_OID]):
            order_id, leaves = r[E_OID], 0
            cancelled += r[E_QTY]
            status = "CANCELLED" if kind == EV_CANCELLED else "EXPIRED"
    out: dict = {"order_id": order_id, "status": status, "filled": filled, "leaves": leaves,
                 "cancelled": cancelled}
    if client_order_id:
        out["client_order_id"] = client_order_id
    return out
