"""Row layouts shared by the journal, both books and the event decoders.

Commands and events cross the Python/numba boundary as rows of int64, so a batch of N
commands is one ``(N, CMD_WIDTH)`` array and one kernel call. Column meanings per kind are
documented next to the Struct types in `engine.commands` and `engine.events`; the constants
here are the single source of those column numbers. Enum values are re-exported as plain
ints because numba freezes module globals as compile-time constants.
"""

from __future__ import annotations

from engine.types import (
    AUCTION_AGGRESSOR,
    CmdKind,
    EventKind,
    InstrumentFlag,
    LedgerAccount,
    LedgerEntry,
    OrderFlag,
    OrderState,
    OrderType,
    Phase,
    Product,
    Reason,
    Side,
    StpMode,
    TimeInForce,
)

# --- command rows ---------------------------------------------------------------------------
CMD_WIDTH = 20
C_KIND = 0
C_SEQ = 1
C_TS = 2
C_ACCT = 3
C_INSTR = 4
C_OID = 5  # NEW_ORDER: the new order id (= seq); CANCEL/AMEND: the target order id
C_SIDE = 6
C_TYPE = 7  # SET_PHASE: the target phase
C_TIF = 8
C_PRICE = 9
C_QTY = 10
C_TRIGGER = 11
C_DISCLOSED = 12  # AMEND: -1 keeps the disclosed quantity
C_FLAGS = 13
C_STP = 14
C_PRECHECK = 15  # a reject code found before the kernel (e.g. duplicate client order id)
C_PRODUCT = 16
C_AMOUNT = 17  # DEPOSIT / WITHDRAW: paise
C_SPARE1 = 18
C_SPARE2 = 19
C_PHASE = C_TYPE
# SET_LIMITS reuses the order columns:
C_CREDIT = C_PRICE
C_MAX_ORDER_VALUE = C_QTY
C_MAX_OPEN_ORDERS = C_TRIGGER
C_MAX_LONG = C_DISCLOSED
C_MAX_SHORT = C_FLAGS
C_RATE = C_STP  # orders per second (0: unlimited); the burst equals the rate

# In C_PRECHECK: the core already ran every one of the book's own checks and they passed.
PRECHECK_PASSED = -1

# --- event rows -----------------------------------------------------------------------------
EVENT_WIDTH = 16
E_KIND = 0
E_SEQ = 1
E_TS = 2
E_INSTR = 3
E_OID = 4  # TRADED: the trade id
E_ACCT = 5
E_SIDE = 6  # TRADED: the aggressor side (AUCTION_AGGRESSOR for auction prints)
E_PRICE = 7
E_QTY = 8
E_A = 9
E_B = 10
E_C = 11
E_D = 12
E_E = 13
E_F = 14
E_G = 15

# --- enum values as plain ints for the kernels ---------------------------------------------
BUY = int(Side.BUY)
SELL = int(Side.SELL)
AUCTION_SIDE = AUCTION_AGGRESSOR

LIMIT = int(OrderType.LIMIT)
MARKET = int(OrderType.MARKET)
SL = int(OrderType.SL)
SL_M = int(OrderType.SL_M)

DAY = int(TimeInForce.DAY)
IOC = int(TimeInForce.IOC)
FOK = int(TimeInForce.FOK)

CLOSED = int(Phase.CLOSED)
PRE_OPEN = int(Phase.PRE_OPEN)
CONTINUOUS = int(Phase.CONTINUOUS)
HALTED = int(Phase.HALTED)

STP_DEFAULT = int(StpMode.DEFAULT)
STP_CANCEL_RESTING = int(StpMode.CANCEL_RESTING)
STP_CANCEL_INCOMING = int(StpMode.CANCEL_INCOMING)
STP_CANCEL_BOTH = int(StpMode.CANCEL_BOTH)

F_POST_ONLY = int(OrderFlag.POST_ONLY)
F_RISK_REDUCING = int(OrderFlag.RISK_REDUCING)

EQ_SEGMENT = 0  # cash equity
FUT_SEGMENT = 1  # futures

CNC = int(Product.CNC)
MIS = int(Product.MIS)
NRML = int(Product.NRML)
IF_DISCLOSED_ALLOWED = int(InstrumentFlag.DISCLOSED_ALLOWED)
IF_HALT_ON_BAND = int(InstrumentFlag.HALT_ON_BAND)

ST_FREE = int(OrderState.FREE)
ST_BOOK = int(OrderState.BOOK)
ST_STOP = int(OrderState.STOP)
ST_MARKET_QUEUE = int(OrderState.MARKET_QUEUE)

R_USER = int(Reason.USER)
R_CANCEL_ALL = int(Reason.CANCEL_ALL)
R_STP_RESTING = int(Reason.STP_RESTING)
R_STP_INCOMING = int(Reason.STP_INCOMING)
R_IOC_REMAINDER = int(Reason.IOC_REMAINDER)
R_FOK_UNFILLED = int(Reason.FOK_UNFILLED)
R_MARKET_REMAINDER = int(Reason.MARKET_REMAINDER)
R_END_OF_DAY = int(Reason.END_OF_DAY)
R_AUCTION_MARKET_TO_LIMIT = int(Reason.AUCTION_MARKET_TO_LIMIT)
R_PHASE_COMMAND = int(Reason.PHASE_COMMAND)
R_BAND_HIT = int(Reason.BAND_HIT)
R_KILL_SWITCH = int(Reason.KILL_SWITCH)
R_SQUARE_OFF = int(Reason.SQUARE_OFF)

K_NEW_ORDER = int(CmdKind.NEW_ORDER)
K_CANCEL = int(CmdKind.CANCEL)
K_AMEND = int(CmdKind.AMEND)
K_CANCEL_ALL = int(CmdKind.CANCEL_ALL)
K_SET_PHASE = int(CmdKind.SET_PHASE)
K_DEPOSIT = int(CmdKind.DEPOSIT)
K_WITHDRAW = int(CmdKind.WITHDRAW)
K_SET_LIMITS = int(CmdKind.SET_LIMITS)
K_MARK = int(CmdKind.MARK)
KERNEL_KIND_LIMIT = 100  # kinds at or above run in Python, between kernel calls

EV_ACCEPTED = int(EventKind.ACCEPTED)
EV_REJECTED = int(EventKind.REJECTED)
EV_TRADED = int(EventKind.TRADED)
EV_CANCELLED = int(EventKind.CANCELLED)
EV_EXPIRED = int(EventKind.EXPIRED)
EV_AMENDED = int(EventKind.AMENDED)
EV_TRIGGERED = int(EventKind.TRIGGERED)
EV_RESTATED = int(EventKind.RESTATED)
EV_PHASE_CHANGED = int(EventKind.PHASE_CHANGED)
EV_BOOK_CHANGED = int(EventKind.BOOK_CHANGED)
EV_AUCTION = int(EventKind.AUCTION)
EV_LEDGER = int(EventKind.LEDGER)
EV_LIMITS_SET = int(EventKind.LIMITS_SET)
EV_MARGIN_CALL = int(EventKind.MARGIN_CALL)
EV_KILL_SWITCH_SET = int(EventKind.KILL_SWITCH_SET)
EV_DAY_CLOSED = int(EventKind.DAY_CLOSED)

LE_TRADE_VALUE = int(LedgerEntry.TRADE_VALUE)
LE_REALISED_PNL = int(LedgerEntry.REALISED_PNL)
LE_CHARGES = int(LedgerEntry.CHARGES)
LE_DEPOSIT = int(LedgerEntry.DEPOSIT)
LE_WITHDRAWAL = int(LedgerEntry.WITHDRAWAL)
LA_CLIENT = int(LedgerAccount.CLIENT)
LA_CLEARING = int(LedgerAccount.CLEARING)
LA_BANK = int(LedgerAccount.BANK)

NONE = -1  # "no level", "no order", "all instruments"
