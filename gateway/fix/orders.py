"""Inbound FIX application messages as core commands.

`new_order` reads a NewOrderSingle (D), `replace` an OrderCancelReplaceRequest (G): both
either give a core command or raise `RefusedError` with the FIX reason and a text that starts
with a stable code. Prices are decimal rupees on the wire (``1410.05``) and exact paise
in the core; a price with more than two decimals that are not zeros is refused here, and
the core then checks the tick grid, bands, lots and freezes as for every other channel.

Tag use (FIX 4.4 names): ClOrdID(11), Symbol(55), Side(54) 1 buy / 2 sell, OrderQty(38),
OrdType(40) 1 market / 2 limit / 3 stop (SL-M) / 4 stop limit (SL), Price(44), StopPx(99),
TimeInForce(59) 0 day / 3 IOC / 4 FOK, MaxFloor(111) disclosed quantity, ExecInst(18)
containing 6 (participate, don't initiate) for post-only, Account(1), and the user-defined
Product(5001) CNC / MIS / NRML.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from engine.commands import Amend, NewOrder
from engine.types import OrderType, Product, Side, TimeInForce
from gateway.fix.codec import Message

TAG_PRODUCT = 5001
CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,36}")  # the same rule as the WebSocket API's
MAX_INT = 2**53 - 1
SIDES = {"1": Side.BUY, "2": Side.SELL}
ORD_TYPES = {"1": OrderType.MARKET, "2": OrderType.LIMIT, "3": OrderType.SL_M,
             "4": OrderType.SL}
FIX_ORD_TYPES = {v: k for k, v in ORD_TYPES.items()}
TIFS = {"0": TimeInForce.DAY, "3": TimeInForce.IOC, "4": TimeInForce.FOK}
FIX_TIFS = {v: k for k, v in TIFS.items()}
PRODUCTS = {"CNC": Product.CNC, "MIS": Product.MIS, "NRML": Product.NRML}

# OrdRejReason(103) values used here
UNKNOWN_SYMBOL, EXCEEDS_LIMIT, DUPLICATE_ORDER = 1, 3, 6
UNSUPPORTED, INCORRECT_QUANTITY, UNKNOWN_ACCOUNT, OTHER = 11, 13, 15, 99


class RefusedError(Exception):
    """A request refused before it reached the core: the FIX reason code and a text."""

    def __init__(self, reason: int, text: str) -> None:
        super().__init__(text)
        self.reason, self.text = reason, text


class OrderFields(NamedTuple):
    """What a D or G names, checked and converted (a named tuple: one is built per order,
    in 0.3 us against 1.3 us for a frozen dataclass of these eleven fields)."""

    cl_ord_id: str
    instrument: int
    side: Side
    qty: int
    type: OrderType
    price: int
    trigger: int
    tif: TimeInForce
    disclosed: int
    post_only: bool
    product: Product


def paise(text: str, tag: str) -> int:
    """Decimal rupees as exact paise; `RefusedError` for anything else."""
    whole, dot, fraction = text.partition(".")
    if not whole.isdigit() or (dot and not fraction.isdigit()):
        raise RefusedError(OTHER, f"PRICE_INVALID: {tag} must be a decimal number of rupees")
    if fraction.rstrip("0")[2:]:
        raise RefusedError(OTHER, f"PRICE_OFF_TICK: {tag} has more than two decimals")
    value = int(whole) * 100 + int((fraction + "00")[:2])
    if value > MAX_INT:
        raise RefusedError(OTHER, f"PRICE_INVALID: {tag} is too large")
    return value


def quantity(text: str | None) -> int:
    """A whole, positive number of units (``5`` or ``5.0``)."""
    whole, dot, fraction = (text or "").partition(".")
    if not whole.isdigit() or (dot and fraction.strip("0")) or not 0 < int(whole) <= MAX_INT:
        raise RefusedError(INCORRECT_QUANTITY,
                           "QTY_INVALID: OrderQty must be a whole number above 0")
    return int(whole)


def cl_ord_id(msg: Message, tag: int = 11) -> str:
    value = msg.get(tag) or ""
    if not CLIENT_ID.fullmatch(value):
        raise RefusedError(OTHER, f"INVALID_FIELD: tag {tag} must be 1 to 36 of "
                           "A-Z a-z 0-9 _ . : -")
    return value


def order_fields(msg: Message, instrument_id: Callable[[str], int | None],
                 default_product: Product) -> OrderFields:
    """The order a D or G describes; `RefusedError` names the first fault."""
    client_id = cl_ord_id(msg)
    symbol = msg.get(55) or ""
    instrument = instrument_id(symbol)
    if instrument is None:
        raise RefusedError(UNKNOWN_SYMBOL, f"UNKNOWN_INSTRUMENT: no instrument {symbol!r}")
    side = SIDES.get(msg.get(54) or "")
    if side is None:
        raise RefusedError(UNSUPPORTED, "INVALID_FIELD: Side must be 1 (buy) or 2 (sell)")
    order_type = ORD_TYPES.get(msg.get(40) or "")
    if order_type is None:
        raise RefusedError(UNSUPPORTED, "INVALID_FIELD: OrdType must be 1, 2, 3 or 4")
    tif = TIFS.get(msg.get(59) or "0")
    if tif is None:
        raise RefusedError(UNSUPPORTED, "INVALID_FIELD: TimeInForce must be 0 (day), 3 (IOC) "
                      "or 4 (FOK)")
    price_text, stop_text = msg.get(44), msg.get(99)
    needs_price = order_type in (OrderType.LIMIT, OrderType.SL)
    if needs_price and price_text is None:
        raise RefusedError(OTHER, "PRICE_INVALID: a limit order needs Price(44)")
    if order_type in (OrderType.SL, OrderType.SL_M) and stop_text is None:
        raise RefusedError(OTHER, "TRIGGER_INVALID: a stop order needs StopPx(99)")
    product = PRODUCTS.get((msg.get(TAG_PRODUCT) or default_product.name).upper())
    if product is None:
        raise RefusedError(UNSUPPORTED, "PRODUCT_NOT_ALLOWED: Product(5001) must be CNC, MIS "
                      "or NRML")
    floor = msg.get(111)
    return OrderFields(
        cl_ord_id=client_id, instrument=instrument, side=side, qty=quantity(msg.get(38)),
        type=order_type, price=paise(price_text, "Price") if needs_price and price_text else 0,
        trigger=paise(stop_text, "StopPx") if stop_text is not None else 0, tif=tif,
        disclosed=quantity(floor) if floor not in (None, "0") else 0,
        post_only="6" in (msg.get(18) or "").split(), product=product)


def new_order(account: int, fields: OrderFields) -> NewOrder:
    return NewOrder(account=account, instrument=fields.instrument, side=fields.side,
                    qty=fields.qty, price=fields.price, type=fields.type, tif=fields.tif,
                    trigger=fields.trigger, disclosed=fields.disclosed,
                    post_only=fields.post_only, client_order_id=fields.cl_ord_id,
                    product=fields.product)


def replace(account: int, order_id: int, fields: OrderFields) -> Amend:
    """A G as an amendment of the order's price, total quantity, trigger and disclosed
    quantity; its side, symbol, type and time in force cannot change (checked by the
    caller against the order)."""
    return Amend(account, order_id=order_id, price=fields.price, qty=fields.qty,
                 trigger=fields.trigger, disclosed=fields.disclosed)


_rupees: dict[int, str] = {}


def rupees(value: int) -> str:
    """Paise as the decimal rupees FIX prices are written in."""
    text = _rupees.get(value)
    if text is None:
        if len(_rupees) > 4096:  # prices repeat: a small memo of recent ones is enough
            _rupees.clear()
        sign = "-" if value < 0 else ""
        text = _rupees[value] = f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}"
    return text


def average_rupees(cost: int, qty: int) -> str:
    """An average price (traded value over quantity) to four decimals of a rupee."""
    if qty == 0:
        return "0"
    hundredths_of_paise = (cost * 100 * 2 + qty) // (2 * qty)  # rounded half up
    whole, fraction = divmod(hundredths_of_paise, 10_000)
    return f"{whole}.{fraction:04d}".rstrip("0").rstrip(".")
