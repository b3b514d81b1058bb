"""One enum of rejection codes for the whole server, numbered in ranges per subsystem.

Clients see the stable *name* (``PRICE_OFF_TICK``) and the number; both never change once
released. Ranges: 1xxx core and journal, 2xxx risk, 3xxx matching, 4xxx gateway.
"""

from __future__ import annotations

from enum import IntEnum


class RejectCode(IntEnum):
    OK = 0

    # 1xxx: core, sequencer, journal
    UNKNOWN_COMMAND = 1001
    INVALID_INSTRUMENT_SPEC = 1002
    DUPLICATE_SYMBOL = 1003
    CAPACITY_INSTRUMENTS = 1004
    BOOK_NOT_EMPTY = 1005
    ACCOUNT_NAME_INVALID = 1006
    ACCOUNT_NAME_TAKEN = 1007
    CAPACITY_ACCOUNTS = 1008
    UNKNOWN_ACCOUNT = 1009
    API_KEY_INVALID = 1010
    API_KEY_EXISTS = 1011
    UNKNOWN_API_KEY = 1012
    USER_INVALID = 1013
    USER_NAME_TAKEN = 1014
    ACCOUNT_ID_UNAVAILABLE = 1015

    # 2xxx: pre-trade risk and funds
    KILL_SWITCH_GLOBAL = 2001
    KILL_SWITCH_ACCOUNT = 2002
    KILL_SWITCH_INSTRUMENT = 2003
    THROTTLED = 2004
    PRODUCT_NOT_ALLOWED = 2005
    MAX_OPEN_ORDERS = 2006
    MAX_ORDER_VALUE = 2007
    POSITION_LIMIT = 2008
    NO_HOLDINGS = 2009
    INSUFFICIENT_FUNDS = 2010
    WITHDRAWAL_EXCEEDS_FREE_CASH = 2011
    AMOUNT_INVALID = 2012
    LIMITS_INVALID = 2013
    CAPACITY_POSITIONS = 2014
    DAY_ALREADY_CLOSED = 2015
    INTRADAY_CUTOFF = 2016

    # 3xxx: order validation and matching
    UNKNOWN_INSTRUMENT = 3001
    ACCOUNT_INVALID = 3002
    INVALID_FIELD = 3003
    MARKET_CLOSED = 3004
    MARKET_HALTED = 3005
    ORDER_NOT_ALLOWED_IN_PHASE = 3006
    QTY_INVALID = 3007
    QTY_NOT_LOT_MULTIPLE = 3008
    QTY_ABOVE_FREEZE = 3009
    PRICE_INVALID = 3010
    PRICE_OFF_TICK = 3011
    PRICE_OUTSIDE_BAND = 3012
    TRIGGER_INVALID = 3013
    TRIGGER_ALREADY_HIT = 3014
    TRIGGER_LIMIT_MISMATCH = 3015
    DISCLOSED_NOT_ALLOWED = 3016
    DISCLOSED_QTY_INVALID = 3017
    POST_ONLY_REQUIRES_LIMIT_DAY = 3018
    POST_ONLY_WOULD_TRADE = 3019
    DUPLICATE_CLIENT_ORDER_ID = 3020
    ORDER_NOT_FOUND = 3021
    ORDER_NOT_AMENDABLE = 3022
    AMEND_NO_CHANGE = 3023
    AMEND_QTY_BELOW_FILLED = 3024
    CAPACITY_ORDERS = 3025
    INVALID_PHASE_TRANSITION = 3026


MESSAGES: dict[RejectCode, str] = {
    RejectCode.UNKNOWN_COMMAND: "unknown command kind",
    RejectCode.INVALID_INSTRUMENT_SPEC: "instrument definition is inconsistent",
    RejectCode.DUPLICATE_SYMBOL: "an instrument with this symbol already exists",
    RejectCode.CAPACITY_INSTRUMENTS: "instrument capacity reached",
    RejectCode.BOOK_NOT_EMPTY: "the instrument must be closed with an empty book",
    RejectCode.ACCOUNT_NAME_INVALID: "account names are 1-64 letters, digits, spaces or ._@-",
    RejectCode.ACCOUNT_NAME_TAKEN: "an account with this name exists",
    RejectCode.ACCOUNT_ID_UNAVAILABLE: "an account with this id exists, or the id is out of range",
    RejectCode.CAPACITY_ACCOUNTS: "account capacity reached",
    RejectCode.UNKNOWN_ACCOUNT: "no such account",
    RejectCode.API_KEY_INVALID: "the key grant is malformed",
    RejectCode.API_KEY_EXISTS: "a key with this id exists",
    RejectCode.UNKNOWN_API_KEY: "no such active key for this account",
    RejectCode.USER_INVALID: "the user record is malformed (name, role, account or hash)",
    RejectCode.USER_NAME_TAKEN: "the user name belongs to another account",
    RejectCode.KILL_SWITCH_GLOBAL: "trading is stopped for everyone (kill switch)",
    RejectCode.KILL_SWITCH_ACCOUNT: "trading is stopped for this account (kill switch)",
    RejectCode.KILL_SWITCH_INSTRUMENT: "trading is stopped in this instrument (kill switch)",
    RejectCode.THROTTLED: "too many orders per second for this account",
    RejectCode.PRODUCT_NOT_ALLOWED: "this product is not available for this instrument",
    RejectCode.MAX_OPEN_ORDERS: "the account has its maximum number of open orders",
    RejectCode.MAX_ORDER_VALUE: "order value is above the account's maximum order value",
    RejectCode.POSITION_LIMIT: "the order could take the position beyond its limit",
    RejectCode.NO_HOLDINGS: "a delivery sell needs holdings not already being sold",
    RejectCode.INSUFFICIENT_FUNDS: "not enough buying power for the funds or margin needed",
    RejectCode.WITHDRAWAL_EXCEEDS_FREE_CASH: "withdrawal is larger than the free cash",
    RejectCode.AMOUNT_INVALID: "amount must be positive",
    RejectCode.LIMITS_INVALID: "limits must not be negative",
    RejectCode.CAPACITY_POSITIONS: "position capacity reached",
    RejectCode.DAY_ALREADY_CLOSED: "this trading day is already closed",
    RejectCode.INTRADAY_CUTOFF: "intraday (MIS) is closed for the day: orders may only reduce",
    RejectCode.UNKNOWN_INSTRUMENT: "unknown instrument",
    RejectCode.ACCOUNT_INVALID: "account id is outside the configured range",
    RejectCode.INVALID_FIELD: "a field has a value outside its domain",
    RejectCode.MARKET_CLOSED: "the instrument is closed for trading",
    RejectCode.MARKET_HALTED: "trading in the instrument is halted",
    RejectCode.ORDER_NOT_ALLOWED_IN_PHASE: "this order type or validity is not accepted in the "
    "current trading phase",
    RejectCode.QTY_INVALID: "quantity must be positive",
    RejectCode.QTY_NOT_LOT_MULTIPLE: "quantity must be a multiple of the lot size",
    RejectCode.QTY_ABOVE_FREEZE: "quantity is above the freeze quantity",
    RejectCode.PRICE_INVALID: "limit price must be positive; market orders carry no price",
    RejectCode.PRICE_OFF_TICK: "price is not a multiple of the tick size",
    RejectCode.PRICE_OUTSIDE_BAND: "price is outside the instrument's price band",
    RejectCode.TRIGGER_INVALID: "trigger price must be on the tick grid inside the band, and only "
    "stop orders carry one",
    RejectCode.TRIGGER_ALREADY_HIT: "trigger price is already reached by the last traded price",
    RejectCode.TRIGGER_LIMIT_MISMATCH: "a buy stop needs trigger <= limit, "
    "a sell stop trigger >= limit",
    RejectCode.DISCLOSED_NOT_ALLOWED: "disclosed quantity is not allowed for this instrument "
    "or order",
    RejectCode.DISCLOSED_QTY_INVALID: "disclosed quantity must be a lot multiple between 10% "
    "and 100% of the order quantity",
    RejectCode.POST_ONLY_REQUIRES_LIMIT_DAY: "post-only orders must be DAY limit orders",
    RejectCode.POST_ONLY_WOULD_TRADE: "post-only order would trade on arrival",
    RejectCode.DUPLICATE_CLIENT_ORDER_ID: "client order id already used by this account",
    RejectCode.ORDER_NOT_FOUND: "no live order with this id for this account",
    RejectCode.ORDER_NOT_AMENDABLE: "this order or field cannot be amended",
    RejectCode.AMEND_NO_CHANGE: "the amendment changes nothing",
    RejectCode.AMEND_QTY_BELOW_FILLED: "new quantity must exceed the filled quantity",
    RejectCode.CAPACITY_ORDERS: "the order book is at capacity",
    RejectCode.INVALID_PHASE_TRANSITION: "this phase change is not allowed",
}


def message(code: int) -> str:
    """Human text for a code; unknown numbers still get a stable string."""
    try:
        return MESSAGES[RejectCode(code)]
    except (ValueError, KeyError):
        return f"rejected with code {code}"
