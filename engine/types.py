"""The core's vocabulary: sides, order types, validities, phases, modes and reasons.

Every value here is a small integer because it travels inside int64 command and event rows
and inside the numba kernels. The IntEnums are the names clients and tests see; the kernels
use the plain module constants in `engine.layout`, which are derived from these enums so the
two can never drift apart.
"""

from __future__ import annotations

from enum import IntEnum


class Side(IntEnum):
    BUY = 0
    SELL = 1

    @property
    def opposite(self) -> Side:
        return Side(1 - self)


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2
    SL = 3  # stop-limit: trigger + limit price
    SL_M = 4  # stop-market: trigger, then a market order with protection


class TimeInForce(IntEnum):
    DAY = 1
    IOC = 2
    FOK = 3


class Phase(IntEnum):
    CLOSED = 1
    PRE_OPEN = 2  # call-auction order collection; leaving it uncrosses the book
    CONTINUOUS = 3
    HALTED = 4


class StpMode(IntEnum):
    """Self-trade prevention: what happens when an order would trade with its own account."""

    DEFAULT = 0  # use the core's configured mode
    CANCEL_RESTING = 1
    CANCEL_INCOMING = 2
    CANCEL_BOTH = 3


class OrderFlag(IntEnum):
    POST_ONLY = 1


class OrderState(IntEnum):
    """Where a live order sits. A done order has no state: it is simply gone from the book."""

    FREE = 0
    BOOK = 1  # resting in the price ladder
    STOP = 2  # untriggered stop waiting in the stop ladder
    MARKET_QUEUE = 3  # a market order collected during the pre-open call auction


class Reason(IntEnum):
    """Why an order left the book, was restated, or why a phase changed."""

    USER = 1
    CANCEL_ALL = 2
    STP_RESTING = 3
    STP_INCOMING = 4
    IOC_REMAINDER = 5
    FOK_UNFILLED = 6
    MARKET_REMAINDER = 7
    END_OF_DAY = 8
    AUCTION_MARKET_TO_LIMIT = 9
    PHASE_COMMAND = 10
    BAND_HIT = 11


class InstrumentFlag(IntEnum):
    DISCLOSED_ALLOWED = 1
    HALT_ON_BAND = 2


class CmdKind(IntEnum):
    """Command kinds. Kinds below 100 run in the book kernel; 100 and above run in Python."""

    NEW_ORDER = 1
    CANCEL = 2
    AMEND = 3
    CANCEL_ALL = 4
    SET_PHASE = 5
    ADD_INSTRUMENT = 100
    SET_REFERENCE = 101


class EventKind(IntEnum):
    ACCEPTED = 1
    REJECTED = 2
    TRADED = 3
    CANCELLED = 4
    EXPIRED = 5
    AMENDED = 6
    TRIGGERED = 7
    RESTATED = 8
    PHASE_CHANGED = 9
    BOOK_CHANGED = 10
    AUCTION = 11
    INSTRUMENT_ADDED = 12
    REFERENCE_SET = 13


AUCTION_AGGRESSOR = 2
"""Aggressor side of a trade printed by a call auction: neither side was the taker."""

NO_ACCOUNT = -1
ALL_INSTRUMENTS = -1
