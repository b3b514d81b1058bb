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
    RISK_REDUCING = 2  # set only on orders the core creates (square-off): bypasses kill switch


class Product(IntEnum):
    """Products as in Indian brokerages."""

    CNC = 1  # delivery: full cash, sells need holdings (equity)
    MIS = 2  # intraday: margin, may short, squared off automatically
    NRML = 3  # carry-forward: margin, derivatives


class KillScope(IntEnum):
    GLOBAL = 1
    ACCOUNT = 2
    INSTRUMENT = 3


class LedgerEntry(IntEnum):
    """What a ledger entry records."""

    TRADE_VALUE = 1  # delivery trade: the cash for the shares
    REALISED_PNL = 2  # margin product: profit or loss on the part of a position closed
    CHARGES = 3  # the day's brokerage and statutory charges
    DEPOSIT = 4
    WITHDRAWAL = 5


class LedgerAccount(IntEnum):
    """Ledger accounts; CLIENT is the cash account of the event's client account."""

    CLIENT = 0
    CLEARING = 1
    BANK = 2
    BROKERAGE = 3
    STT = 4
    EXCHANGE = 5
    SEBI = 6
    STAMP = 7
    GST = 8


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
    KILL_SWITCH = 12
    SQUARE_OFF = 13


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
    DEPOSIT = 6
    WITHDRAW = 7
    SET_LIMITS = 8
    MARK = 9
    ADD_INSTRUMENT = 100
    SET_REFERENCE = 101
    KILL_SWITCH = 102
    SQUARE_OFF = 103
    END_OF_DAY = 104
    CREATE_ACCOUNT = 105
    ADD_API_KEY = 106
    REVOKE_API_KEY = 107
    SET_USER = 108


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
    LEDGER = 14
    LIMITS_SET = 15
    MARGIN_CALL = 16
    KILL_SWITCH_SET = 17
    DAY_CLOSED = 18
    ACCOUNT_CREATED = 19
    API_KEY_ADDED = 20
    API_KEY_REVOKED = 21
    USER_SET = 22


AUCTION_AGGRESSOR = 2
"""Aggressor side of a trade printed by a call auction: neither side was the taker."""

NO_ACCOUNT = -1
ALL_INSTRUMENTS = -1
