"""Order validation rules, written once for both books.

These are plain functions over integers, marked `register_jitable`: the reference book
calls them as ordinary Python and the numba kernels compile this exact source. The checks of
a new order are inlined into the kernel (a call with seventeen arguments cost about a fifth
of the whole per-order time); `validate_amend` and `keeps_priority` stay calls, because
numba 0.68's IR inliner miscompiled them (an amend's level quantity went unchanged), which
the scenario tables caught. Checks run in
a fixed order and the first failure wins, so a given order always gets the same code.
Nothing here looks at the book: post-only crossing and capacity are checked by each book.
"""

from __future__ import annotations

from numba.extending import register_jitable

from engine.codes import RejectCode
from engine.layout import (
    BUY,
    CLOSED,
    CNC,
    DAY,
    F_POST_ONLY,
    F_RISK_REDUCING,
    FOK,
    HALTED,
    IF_DISCLOSED_ALLOWED,
    LIMIT,
    NRML,
    PRE_OPEN,
    SELL,
    SL,
    SL_M,
    ST_MARKET_QUEUE,
    ST_STOP,
    STP_CANCEL_BOTH,
)

OK = int(RejectCode.OK)
INVALID_FIELD = int(RejectCode.INVALID_FIELD)
MARKET_CLOSED = int(RejectCode.MARKET_CLOSED)
MARKET_HALTED = int(RejectCode.MARKET_HALTED)
NOT_IN_PHASE = int(RejectCode.ORDER_NOT_ALLOWED_IN_PHASE)
QTY_INVALID = int(RejectCode.QTY_INVALID)
QTY_NOT_LOT_MULTIPLE = int(RejectCode.QTY_NOT_LOT_MULTIPLE)
QTY_ABOVE_FREEZE = int(RejectCode.QTY_ABOVE_FREEZE)
PRICE_INVALID = int(RejectCode.PRICE_INVALID)
PRICE_OFF_TICK = int(RejectCode.PRICE_OFF_TICK)
PRICE_OUTSIDE_BAND = int(RejectCode.PRICE_OUTSIDE_BAND)
TRIGGER_INVALID = int(RejectCode.TRIGGER_INVALID)
TRIGGER_ALREADY_HIT = int(RejectCode.TRIGGER_ALREADY_HIT)
TRIGGER_LIMIT_MISMATCH = int(RejectCode.TRIGGER_LIMIT_MISMATCH)
DISCLOSED_NOT_ALLOWED = int(RejectCode.DISCLOSED_NOT_ALLOWED)
DISCLOSED_QTY_INVALID = int(RejectCode.DISCLOSED_QTY_INVALID)
POST_ONLY_REQUIRES_LIMIT_DAY = int(RejectCode.POST_ONLY_REQUIRES_LIMIT_DAY)
ORDER_NOT_AMENDABLE = int(RejectCode.ORDER_NOT_AMENDABLE)
AMEND_NO_CHANGE = int(RejectCode.AMEND_NO_CHANGE)
AMEND_QTY_BELOW_FILLED = int(RejectCode.AMEND_QTY_BELOW_FILLED)

KEEP_DISCLOSED = -1


@register_jitable(inline="always")
def price_code(price: int, tick: int, lo: int, hi: int) -> int:
    """A limit price must be positive, on the tick grid and inside the band."""
    if price <= 0:
        return PRICE_INVALID
    if price % tick != 0:
        return PRICE_OFF_TICK
    if price < lo or price > hi:
        return PRICE_OUTSIDE_BAND
    return OK


@register_jitable(inline="always")
def quantity_code(qty: int, lot: int, freeze: int) -> int:
    if qty <= 0:
        return QTY_INVALID
    if qty % lot != 0:
        return QTY_NOT_LOT_MULTIPLE
    if freeze > 0 and qty > freeze:
        return QTY_ABOVE_FREEZE
    return OK


@register_jitable(inline="always")
def trigger_code(
    side: int, otype: int, price: int, trigger: int, tick: int, lo: int, hi: int, last: int
) -> int:
    """A stop's trigger: on grid, in band, not yet reached, and consistent with its limit.

    A buy stop fires when the last traded price rises to the trigger, a sell stop when it
    falls to it, so at entry a buy trigger must be above ``last`` and a sell trigger below.
    """
    if trigger <= 0 or trigger % tick != 0 or trigger < lo or trigger > hi:
        return TRIGGER_INVALID
    if side == BUY:
        if trigger <= last:
            return TRIGGER_ALREADY_HIT
        if otype == SL and trigger > price:
            return TRIGGER_LIMIT_MISMATCH
    else:
        if trigger >= last:
            return TRIGGER_ALREADY_HIT
        if otype == SL and trigger < price:
            return TRIGGER_LIMIT_MISMATCH
    return OK


@register_jitable(inline="always")
def disclosed_code(disclosed: int, qty: int, lot: int) -> int:
    """Disclosed quantity: a lot multiple of at least 10% and at most all of the quantity."""
    if disclosed < 0 or disclosed > qty or disclosed * 10 < qty or disclosed % lot != 0:
        return DISCLOSED_QTY_INVALID
    return OK


@register_jitable(inline="always")
def phase_code(phase: int) -> int:
    if phase == CLOSED:
        return MARKET_CLOSED
    if phase == HALTED:
        return MARKET_HALTED
    return OK


@register_jitable(inline="always")
def validate_new_order(
    side: int,
    otype: int,
    tif: int,
    flags: int,
    stp: int,
    product: int,
    price: int,
    qty: int,
    trigger: int,
    disclosed: int,
    phase: int,
    tick: int,
    lot: int,
    freeze: int,
    lo: int,
    hi: int,
    iflags: int,
    last: int,
) -> int:
    """All book-independent checks of a new order, in their fixed order."""
    if side != BUY and side != SELL:
        return INVALID_FIELD
    if otype < LIMIT or otype > SL_M or tif < DAY or tif > FOK:
        return INVALID_FIELD
    if stp < 0 or stp > STP_CANCEL_BOTH or (flags & ~(F_POST_ONLY | F_RISK_REDUCING)) != 0:
        return INVALID_FIELD
    if product < CNC or product > NRML:
        return INVALID_FIELD
    code = phase_code(phase)
    if code != OK:
        return code
    is_stop = otype in (SL, SL_M)
    post_only = (flags & F_POST_ONLY) != 0
    if phase == PRE_OPEN and (is_stop or tif != DAY or post_only or disclosed != 0):
        return NOT_IN_PHASE
    code = quantity_code(qty, lot, freeze)
    if code != OK:
        return code
    has_limit = otype in (LIMIT, SL)
    if has_limit:
        code = price_code(price, tick, lo, hi)
        if code != OK:
            return code
    elif price != 0:
        return PRICE_INVALID
    if is_stop:
        code = trigger_code(side, otype, price, trigger, tick, lo, hi, last)
        if code != OK:
            return code
    elif trigger != 0:
        return TRIGGER_INVALID
    if disclosed != 0:
        if (iflags & IF_DISCLOSED_ALLOWED) == 0 or tif != DAY or not has_limit:
            return DISCLOSED_NOT_ALLOWED
        code = disclosed_code(disclosed, qty, lot)
        if code != OK:
            return code
    if post_only and (otype != LIMIT or tif != DAY):
        return POST_ONLY_REQUIRES_LIMIT_DAY
    return OK


@register_jitable
def validate_amend(
    state: int,
    side: int,
    otype: int,
    cur_price: int,
    cur_qty: int,
    filled: int,
    cur_trigger: int,
    cur_disclosed: int,
    new_price: int,
    new_qty: int,
    new_trigger: int,
    new_disclosed: int,
    phase: int,
    tick: int,
    lot: int,
    freeze: int,
    lo: int,
    hi: int,
    iflags: int,
    last: int,
) -> int:
    """Checks of an amendment of a live order. Zero means "keep" for price, qty and trigger;
    ``KEEP_DISCLOSED`` keeps the disclosed quantity (0 removes it)."""
    if new_price < 0 or new_qty < 0 or new_trigger < 0 or new_disclosed < KEEP_DISCLOSED:
        return INVALID_FIELD
    code = phase_code(phase)
    if code != OK:
        return code
    price = cur_price if new_price == 0 else new_price
    qty = cur_qty if new_qty == 0 else new_qty
    trigger = cur_trigger if new_trigger == 0 else new_trigger
    disclosed = cur_disclosed if new_disclosed == KEEP_DISCLOSED else new_disclosed
    if state == ST_MARKET_QUEUE and (new_price != 0 or disclosed != cur_disclosed):
        return ORDER_NOT_AMENDABLE
    if new_trigger != 0 and state != ST_STOP:
        return ORDER_NOT_AMENDABLE
    if new_price != 0 and otype == SL_M:
        return ORDER_NOT_AMENDABLE
    unchanged = price == cur_price and qty == cur_qty and trigger == cur_trigger
    if unchanged and disclosed == cur_disclosed:
        return AMEND_NO_CHANGE
    code = quantity_code(qty, lot, freeze)
    if code != OK:
        return code
    if qty <= filled:
        return AMEND_QTY_BELOW_FILLED
    if price != cur_price:
        code = price_code(price, tick, lo, hi)
        if code != OK:
            return code
    if state == ST_STOP and (trigger != cur_trigger or price != cur_price):
        code = trigger_code(side, otype, price, trigger, tick, lo, hi, last)
        if code != OK:
            return code
    if disclosed != 0 and (disclosed != cur_disclosed or qty != cur_qty):
        if (iflags & IF_DISCLOSED_ALLOWED) == 0:
            return DISCLOSED_NOT_ALLOWED
        code = disclosed_code(disclosed, qty, lot)
        if code != OK:
            return code
    return OK


@register_jitable
def keeps_priority(
    cur_price: int, cur_qty: int, cur_trigger: int, cur_disclosed: int,
    price: int, qty: int, trigger: int, disclosed: int,
) -> bool:
    """Only a pure quantity reduction keeps an order's place in its queue."""
    return (
        price == cur_price
        and trigger == cur_trigger
        and disclosed == cur_disclosed
        and qty <= cur_qty
    )
