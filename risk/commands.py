"""The core's account-side commands that expand into other commands: kill switch,
square-off and end of day.

They run in Python between kernel calls, like instrument definitions. Whatever they do to
orders goes through the normal path: the cancels and market orders they create are command
rows carrying the sequence number and time of the command that caused them, checked by risk
and matched by the book, so replaying the journal recreates them exactly. Orders they
create get ids from a counter in the risk state, above every sequence number.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np

from engine.codes import RejectCode
from engine.events import event_row, rejection
from engine.layout import (
    BUY,
    C_ACCT,
    C_FLAGS,
    C_INSTR,
    C_KIND,
    C_OID,
    C_PRODUCT,
    C_QTY,
    C_SEQ,
    C_SIDE,
    C_TIF,
    C_TS,
    C_TYPE,
    CMD_WIDTH,
    CNC,
    EVENT_WIDTH,
    F_RISK_REDUCING,
    IOC,
    K_CANCEL,
    K_NEW_ORDER,
    LA_CLIENT,
    MARKET,
    MIS,
    NRML,
    R_KILL_SWITCH,
    R_SQUARE_OFF,
    SELL,
)
from engine.types import CmdKind, EventKind, KillScope, LedgerAccount, LedgerEntry
from portfolio import charges
from risk import rules

if TYPE_CHECKING:
    from engine.core import Core

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


def _command_rows(row: np.ndarray, n: int) -> np.ndarray:
    rows = np.zeros((n, CMD_WIDTH), dtype=np.int64)
    rows[:, C_SEQ], rows[:, C_TS] = row[C_SEQ], row[C_TS]
    return rows


def _cancels(row: np.ndarray, orders: list[tuple[int, int]], reason: int) -> np.ndarray:
    rows = _command_rows(row, len(orders))
    for i, (oid, acct) in enumerate(orders):
        rows[i, C_KIND], rows[i, C_OID], rows[i, C_ACCT], rows[i, C_TYPE] = (
            K_CANCEL, oid, acct, reason)
        rows[i, C_INSTR] = -1
    return rows


def kill_switch(core: Core, row: np.ndarray) -> np.ndarray:
    scope, on, cancel = int(row[C_TYPE]), bool(row[C_TIF]), bool(row[C_FLAGS])
    target = {KillScope.ACCOUNT: int(row[C_ACCT]), KillScope.INSTRUMENT: int(row[C_INSTR])}.get(
        scope, 0)
    if scope not in (KillScope.GLOBAL, KillScope.ACCOUNT, KillScope.INSTRUMENT):
        return rejection(row, RejectCode.INVALID_FIELD)
    if scope == KillScope.ACCOUNT and not 0 <= target < core.config.max_accounts:
        return rejection(row, RejectCode.ACCOUNT_INVALID)
    if scope == KillScope.INSTRUMENT and not 0 <= target < len(core.specs):
        return rejection(row, RejectCode.UNKNOWN_INSTRUMENT)
    core.risk.set_kill(scope, target, on)
    events = [event_row(EventKind.KILL_SWITCH_SET, int(row[C_SEQ]), int(row[C_TS]), -1,
                        a=scope, b=target, c=int(on), d=int(cancel))[None, :]]
    if on and cancel:
        orders = core.risk.open_orders(
            instr=target if scope == KillScope.INSTRUMENT else -1,
            acct=target if scope == KillScope.ACCOUNT else -1,
        )
        if orders:
            events.append(core.process_rows(_cancels(row, orders, R_KILL_SWITCH)))
    return np.concatenate(events)


def square_off(core: Core, row: np.ndarray) -> np.ndarray:
    """Cancel the open orders of the product, then close its positions at market."""
    product, instr = int(row[C_PRODUCT]), int(row[C_INSTR])
    if product not in (CNC, MIS, NRML) or instr < -1 or instr >= len(core.specs):
        return rejection(row, RejectCode.INVALID_FIELD)
    events: list[np.ndarray] = []
    if product == MIS and instr == -1:  # the day's intraday trading is over
        core.risk.close_intraday(rules.ist_day(int(row[C_TS])))
    orders = core.risk.open_orders(product=product, instr=instr)
    if orders:
        events.append(core.process_rows(_cancels(row, orders, R_SQUARE_OFF)))
    closing: list[tuple[int, int, int, int]] = []
    for acct, position_instr, net in core.risk.open_positions(product, instr):
        spec = core.specs[position_instr]
        left = abs(net)
        largest = spec.freeze_qty or left
        while left > 0:
            qty = min(left, largest)
            closing.append((acct, position_instr, SELL if net > 0 else BUY, qty))
            left -= qty
    if closing:
        rows = _command_rows(row, len(closing))
        for i, (acct, position_instr, side, qty) in enumerate(closing):
            r = rows[i]
            r[C_KIND], r[C_OID], r[C_ACCT], r[C_INSTR] = (
                K_NEW_ORDER, core.config.order_id_base + core.risk.take_synthetic_id(), acct,
                position_instr)
            r[C_SIDE], r[C_QTY], r[C_TYPE], r[C_TIF] = side, qty, MARKET, IOC
            r[C_PRODUCT], r[C_FLAGS] = product, F_RISK_REDUCING
        events.append(core.process_rows(rows))
    return np.concatenate(events) if events else np.zeros((0, EVENT_WIDTH), dtype=np.int64)


CHARGE_ACCOUNTS = (
    ("brokerage", LedgerAccount.BROKERAGE), ("stt", LedgerAccount.STT),
    ("exchange", LedgerAccount.EXCHANGE), ("sebi", LedgerAccount.SEBI),
    ("stamp", LedgerAccount.STAMP), ("gst", LedgerAccount.GST),
)


def trading_day(ts: int) -> int:
    """The date (YYYYMMDD, Indian time) of a command time in ns since the epoch."""
    return int(dt.datetime.fromtimestamp(ts / 1e9, IST).strftime("%Y%m%d"))


def end_of_day(core: Core, row: np.ndarray) -> np.ndarray:
    """Post each account's charges for the day, then roll positions over."""
    seq, ts = int(row[C_SEQ]), int(row[C_TS])
    day = trading_day(ts)
    if day <= core.risk.closed_day:
        return rejection(row, RejectCode.DAY_ALREADY_CLOSED)
    events: list[np.ndarray] = []
    charged = 0
    for acct, legs in sorted(core.risk.day_turnover().items()):
        turnover: dict[str, tuple[int, int]] = {}
        for instr, product, buys, sells in legs:
            name = charges.category(core.specs[instr].segment, product)
            b, s = turnover.get(name, (0, 0))
            turnover[name] = (b + buys, s + sells)
        bill = charges.day_charges(turnover, core.risk.day_brokerage(acct), day)
        if bill.total == 0:
            continue
        charged += 1
        for field, ledger_account in CHARGE_ACCOUNTS:
            amount = getattr(bill, field)
            if amount:
                core.risk.transfer(acct, LA_CLIENT, int(ledger_account), amount)
                events.append(event_row(
                    EventKind.LEDGER, seq, ts, -1, acct=acct, side=LedgerEntry.CHARGES,
                    a=LA_CLIENT, b=int(ledger_account), c=amount)[None, :])
    core.risk.roll_day(day)
    core.client_ids.clear()  # client order ids are unique per account and day
    events.append(event_row(EventKind.DAY_CLOSED, seq, ts, -1, a=charged, b=day)[None, :])
    return np.concatenate(events)


ACCOUNT_COMMANDS = {
    CmdKind.KILL_SWITCH: kill_switch,
    CmdKind.SQUARE_OFF: square_off,
    CmdKind.END_OF_DAY: end_of_day,
}
