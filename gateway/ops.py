"""The operations' arguments and their translation to core commands and back.

Prices and amounts are integer paise and quantities integer units, as in the core; enums
are lowercase strings. A client order id is mandatory on every new order: it makes a retry
after a lost reply safe (the core refuses a second order with the same id) and lets the
client ask what became of the order.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

import msgspec
import numpy as np

from engine import events as ev
from engine.codes import RejectCode
from engine.commands import Amend, Cancel, CancelAll, NewOrder
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

SIDES = {"buy": Side.BUY, "sell": Side.SELL}
TYPES = {"limit": OrderType.LIMIT, "market": OrderType.MARKET, "sl": OrderType.SL,
         "sl-m": OrderType.SL_M}
TIFS = {"day": TimeInForce.DAY, "ioc": TimeInForce.IOC, "fok": TimeInForce.FOK}
PRODUCTS = {"cnc": Product.CNC, "mis": Product.MIS, "nrml": Product.NRML}
STPS = {"cancel_resting": StpMode.CANCEL_RESTING, "cancel_incoming": StpMode.CANCEL_INCOMING,
        "cancel_both": StpMode.CANCEL_BOTH}


class Args(msgspec.Struct, forbid_unknown_fields=True):
    pass


class PlaceArgs(Args):
    symbol: str
    side: Literal["buy", "sell"]
    qty: Quantity
    client_order_id: ClientOrderId
    type: Literal["limit", "market", "sl", "sl-m"] = "limit"
    price: Paise = 0
    trigger: Paise = 0
    tif: Literal["day", "ioc", "fok"] = "day"
    product: Literal["cnc", "mis", "nrml"] = "mis"
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


class Outcome(msgspec.Struct):
    """What the reply to a trading request says, from the receipt's events."""

    order_id: int
    status: str
    filled: int = 0
    leaves: int = 0
    cancelled: int = 0


def outcome(events: np.ndarray, client_order_id: str = "") -> dict:
    """The result of one order command, or `ApiError` if the core rejected it."""
    decoded = ev.decode(events)
    for e in decoded:
        if isinstance(e, ev.Rejected):
            raise ApiError(RejectCode(e.code), order_id=e.order_id,
                           client_order_id=client_order_id or None)
    result = Outcome(0, "DONE")
    for e in decoded:
        if isinstance(e, ev.Accepted):
            result.order_id, result.leaves = e.order_id, e.qty
            waiting = e.type in (OrderType.SL, OrderType.SL_M)
            result.status = "TRIGGER_PENDING" if waiting else "OPEN"
        elif isinstance(e, ev.Amended):
            result.order_id, result.status, result.leaves = e.order_id, "AMENDED", e.leaves
        elif isinstance(e, ev.Traded) and result.order_id in (e.buy_order_id, e.sell_order_id):
            result.filled += e.qty
            result.leaves = e.buy_leaves if e.buy_order_id == result.order_id else e.sell_leaves
            result.status = "FILLED" if result.leaves == 0 else "PARTIALLY_FILLED"
        elif isinstance(e, ev.Cancelled | ev.Expired) and result.order_id in (0, e.order_id):
            result.order_id = e.order_id
            result.cancelled += e.qty
            result.leaves = 0
            result.status = "CANCELLED" if isinstance(e, ev.Cancelled) else "EXPIRED"
    out = msgspec.to_builtins(result)
    if client_order_id:
        out["client_order_id"] = client_order_id
    return out
