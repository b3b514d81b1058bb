"""Integer price arithmetic shared by both books: tick rounding, bands, market protection.

Plain Python on ints, marked `register_jitable` so the numba kernels compile the very same
functions inline: the reference book and the fast book cannot disagree about a rounding rule
because there is only one copy of it. Prices are paise (int).
"""

from __future__ import annotations

from numba.extending import register_jitable

BPS = 10_000


@register_jitable
def floor_to_tick(price: int, tick: int) -> int:
    return (price // tick) * tick


@register_jitable
def ceil_to_tick(price: int, tick: int) -> int:
    return -((-price) // tick) * tick


@register_jitable
def band_low(ref: int, band_bps: int, tick: int) -> int:
    """Lowest price of the band ``ref * (1 - band)``, rounded inwards to the tick grid."""
    raw = -((-ref * (BPS - band_bps)) // BPS)
    return max(tick, ceil_to_tick(raw, tick))


@register_jitable
def band_high(ref: int, band_bps: int, tick: int) -> int:
    """Highest price of the band ``ref * (1 + band)``, rounded inwards to the tick grid."""
    return floor_to_tick((ref * (BPS + band_bps)) // BPS, tick)


@register_jitable
def protection_price(
    is_buy: bool, last: int, protection_bps: int, tick: int, lo: int, hi: int
) -> int:
    """The worst price a market order may trade at: ``last`` moved by the protection, in band.

    With ``protection_bps == 0`` the band itself is the only protection.
    """
    if protection_bps <= 0:
        return hi if is_buy else lo
    if is_buy:
        return min(hi, floor_to_tick(last + (last * protection_bps) // BPS, tick))
    return max(lo, ceil_to_tick(last - (last * protection_bps) // BPS, tick))
