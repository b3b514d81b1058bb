"""The arithmetic of pre-trade risk and positions, one copy for both implementations.

Plain functions over integers marked `register_jitable`: the reference (`risk.reference`)
calls them as Python and the numba kernels compile them. State handling and the order of
checks are written separately in each implementation and compared by the tests.

Money model, in paise:

* An order blocks funds when it is accepted. A delivery (CNC) buy blocks its full value; a
  delivery sell blocks holdings, not cash. An intraday (MIS) or carry-forward (NRML) order
  blocks margin, ``rate_bps`` of its value, on the part that would open or grow a position;
  the part that reduces the existing position (not already covered by other open orders on
  the same side) needs none. Fills consume the reducing part first.
* The block price is the limit price, or for market orders the protection price (the band
  edge in the call auction), for stop-market orders the protection price from the trigger.
* Buying power = cash + credit - blocked - margin.
* A position keeps ``net`` (signed quantity) and ``basis`` (signed cost of the open lots, so
  the average price is basis / net). Closing part of it realises ``exit value - its share of
  the basis``; the share is rounded down and the rest stays in the basis, so no paisa is
  ever lost between realised P&L and the open position.
* Margin held by an intraday/carry-forward position = ``rate_bps`` of its open cost.
"""

from __future__ import annotations

from numba.extending import register_jitable

from engine import pricing
from engine.layout import BUY, CNC, EQ_SEGMENT, LIMIT, MARKET, PRE_OPEN, SL

BPS = 10_000
IST_OFFSET_S = 19_800  # Indian time is UTC + 5:30 all year
DAY_S = 86_400
TOKEN = 1_000  # the rate limiter counts milli-orders
BROKERAGE_NUM, BROKERAGE_DEN, BROKERAGE_CAP = 3, 10_000, 2_000


@register_jitable
def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


@register_jitable
def need_for(product: int, side: int, leaves: int, reduce: int, block_price: int,
             rate_bps: int) -> int:
    """Funds an open order keeps blocked for its remaining ``leaves``."""
    if product == CNC:
        return leaves * block_price if side == BUY else 0
    return ceil_div((leaves - reduce) * block_price * rate_bps, BPS)


@register_jitable
def reducible(side: int, net: int, open_buy: int, open_sell: int) -> int:
    """How much of a new order would only reduce the position (needs no margin)."""
    if side == BUY:
        return max(0, -net - open_buy)
    return max(0, net - open_sell)


@register_jitable
def block_price(otype: int, side: int, price: int, trigger: int, phase: int, last: int,
                protection_bps: int, tick: int, lo: int, hi: int) -> int:
    if otype in (LIMIT, SL):
        return price
    is_buy = side == BUY
    if otype == MARKET:
        if phase == PRE_OPEN:  # the auction price is not known yet: the worst case
            return hi if is_buy else lo
        return pricing.protection_price(is_buy, last, protection_bps, tick, lo, hi)
    return pricing.protection_price(is_buy, trigger, protection_bps, tick, lo, hi)


@register_jitable
def apply_fill(net: int, basis: int, side: int, qty: int, price: int):  # -> (net, basis, pnl)
    """A fill of ``qty`` at ``price`` into a position; returns (net, basis, realised)."""
    signed = qty if side == BUY else -qty
    if net == 0 or (net > 0) == (signed > 0):
        return net + signed, basis + signed * price, 0
    net_abs = abs(net)
    closing = min(qty, net_abs)
    closed = (abs(basis) * closing) // net_abs
    if basis < 0:
        closed = -closed
    signed_close = closing if signed > 0 else -closing
    realised = -(signed_close * price) - closed
    net += signed_close
    basis -= closed
    rest = qty - closing
    if rest > 0:
        signed_rest = rest if signed > 0 else -rest
        net += signed_rest
        basis += signed_rest * price
    return net, basis, realised


@register_jitable
def position_margin(product: int, basis: int, rate_bps: int) -> int:
    if product == CNC:
        return 0
    return ceil_div(abs(basis) * rate_bps, BPS)


@register_jitable
def order_brokerage(product: int, segment: int, turnover: int) -> int:
    """0.03% of an executed order's traded value, at most ₹20; delivery trades are free."""
    if turnover <= 0 or (product == CNC and segment == EQ_SEGMENT):
        return 0
    return min(BROKERAGE_CAP, (2 * turnover * BROKERAGE_NUM + BROKERAGE_DEN)
               // (2 * BROKERAGE_DEN))


@register_jitable
def refilled(tokens: int, token_ts: int, rate: int, ts: int) -> int:
    """Milli-orders available at ``ts`` in a bucket of ``rate`` orders per second, whose
    burst equals the rate."""
    cap = rate * TOKEN
    if ts <= token_ts:
        return min(tokens, cap)
    gained = (ts - token_ts) * rate // 1_000_000  # ns * orders/s -> milli-orders
    return min(cap, tokens + gained)



@register_jitable
def ist_day(ts: int) -> int:
    """Days since the epoch, Indian time, of command time ``ts`` (ns since the epoch)."""
    return (ts // 1_000_000_000 + IST_OFFSET_S) // DAY_S
