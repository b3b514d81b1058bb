"""Instrument definitions: tick, lot, freeze quantity, price band, market protection, phase.

An instrument is identified inside the core by a dense integer id, assigned in the order the
ADD_INSTRUMENT commands were sequenced, so replaying a journal gives every symbol the same
id. NSE reviews tick sizes monthly per instrument, so the tick is a field of the definition,
not a global rule. The price band is derived from the reference price (the previous close
or base price) and ``band_bps``; each book keeps a dense price ladder spanning exactly the band.
"""

from __future__ import annotations

import json
from importlib import resources

import msgspec

from engine import pricing
from engine.codes import RejectCode
from engine.types import InstrumentFlag, Phase, Product

MAX_SYMBOL_LENGTH = 32
SEGMENTS = ("EQ", "FUT")
MAX_LADDER_LEVELS = 1_000_000


class InstrumentSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Static definition of a tradable instrument. Prices are paise, quantities units."""

    symbol: str
    tick: int
    lot: int
    ref_price: int
    band_bps: int
    freeze_qty: int = 0  # 0: no freeze limit
    protection_bps: int = 300  # market orders never trade beyond last price +/- this
    disclosed_allowed: bool = True
    halt_on_band: bool = False
    segment: str = "EQ"  # EQ (cash equity) or FUT (futures)
    name: str = ""
    phase: Phase = Phase.CLOSED
    mis_margin_bps: int = 2_000  # intraday margin as a fraction of order value
    nrml_margin_bps: int = 1_200  # carry-forward margin (derivatives)

    @property
    def band_lo(self) -> int:
        return pricing.band_low(self.ref_price, self.band_bps, self.tick)

    @property
    def band_hi(self) -> int:
        return pricing.band_high(self.ref_price, self.band_bps, self.tick)

    @property
    def levels(self) -> int:
        return (self.band_hi - self.band_lo) // self.tick + 1

    @property
    def flags(self) -> int:
        flags = 0
        if self.disclosed_allowed:
            flags |= InstrumentFlag.DISCLOSED_ALLOWED
        if self.halt_on_band:
            flags |= InstrumentFlag.HALT_ON_BAND
        return flags

    @property
    def products(self) -> frozenset[Product]:
        """Delivery for cash equity, carry-forward for derivatives, intraday for both."""
        if self.segment == "EQ":
            return frozenset({Product.CNC, Product.MIS})
        return frozenset({Product.MIS, Product.NRML})

    def margin_bps(self, product: Product) -> int:
        if product == Product.CNC:
            return 10_000
        return self.mis_margin_bps if product == Product.MIS else self.nrml_margin_bps

    def with_reference(self, ref_price: int) -> InstrumentSpec:
        return msgspec.structs.replace(self, ref_price=ref_price)


def validate(spec: InstrumentSpec) -> RejectCode:
    """Check a definition before it enters the core; OK or the first problem found."""
    if not spec.symbol or len(spec.symbol) > MAX_SYMBOL_LENGTH:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if spec.tick <= 0 or spec.lot <= 0 or spec.ref_price <= 0:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if spec.ref_price % spec.tick != 0:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if not 0 < spec.band_bps < pricing.BPS or not 0 <= spec.protection_bps < pricing.BPS:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if spec.freeze_qty < 0 or spec.freeze_qty % spec.lot != 0:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if spec.phase not in (Phase.CLOSED, Phase.PRE_OPEN, Phase.CONTINUOUS):
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if spec.segment not in SEGMENTS:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if not 0 < spec.mis_margin_bps <= pricing.BPS or not 0 < spec.nrml_margin_bps <= pricing.BPS:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if not spec.band_lo <= spec.ref_price <= spec.band_hi:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    if spec.levels > MAX_LADDER_LEVELS:
        return RejectCode.INVALID_INSTRUMENT_SPEC
    return RejectCode.OK


def demo_instruments() -> list[InstrumentSpec]:
    """The NSE-like demo set shipped with the package (``engine/data/demo_instruments.json``)."""
    raw = resources.files("engine").joinpath("data/demo_instruments.json").read_text("utf-8")
    return msgspec.convert(json.loads(raw)["instruments"], list[InstrumentSpec])
