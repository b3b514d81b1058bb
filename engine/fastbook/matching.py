"""Continuous matching in the fast book: execute, match, trade, FOK, stops and halts.

This mirrors `engine.refbook` rule for rule (its docstring states the rules); the property
tests drive both with the same commands and require identical events. The one place where
the code differs in method is the FOK pre-check: the reference simulates the queue with
its refills, this computes the same answer in closed form per level (see `fok_fillable`).
"""

from __future__ import annotations

from engine.fastbook.arena import (
    I_BEST,
    I_FLAGS,
    I_HALT,
    I_HI,
    I_LO,
    I_LTP,
    I_PHASE,
    I_STOP,
    L_HEAD,
    L_QTY,
    L_SHEAD,
    O_ACCT,
    O_DISCLOSED,
    O_FILLED,
    O_INSTR,
    O_LEAVES,
    O_NEXT,
    O_OID,
    O_PRICE,
    O_SIDE,
    O_STATE,
    O_STP,
    O_TIF,
    O_TRIGGER,
    O_TYPE,
    O_VISIBLE,
    instruments,
    kernel,
    levels,
    orders,
)
from engine.fastbook.containers import (
    emit,
    emit_trade,
    forget,
    level_requeue,
    level_row,
    level_unlink,
    note_slots,
    price_of,
    protection,
    remove,
    rest,
    scan_best,
    stop_unlink,
    touch,
)
from engine.layout import (
    BUY,
    CONTINUOUS,
    DAY,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_PHASE_CHANGED,
    EV_TRIGGERED,
    FOK,
    HALTED,
    IF_HALT_ON_BAND,
    MARKET,
    R_BAND_HIT,
    R_FOK_UNFILLED,
    R_IOC_REMAINDER,
    R_MARKET_REMAINDER,
    R_STP_INCOMING,
    R_STP_RESTING,
    SELL,
    SL,
    SL_M,
    ST_FREE,
    STP_CANCEL_INCOMING,
    STP_CANCEL_RESTING,
)


@kernel
def finish(st, s, kind, reason):
    """End a live order with a CANCELLED or EXPIRED event for its remaining quantity."""
    ords = orders(st)
    emit(st, kind, ords[s, O_INSTR], ords[s, O_OID], ords[s, O_ACCT],
         ords[s, O_SIDE], ords[s, O_PRICE], ords[s, O_LEAVES], reason, 0, 0, 0, 0, 0, 0)
    note_slots(st, s, -1)
    forget(st, s)


@kernel
def crosses(st, instr, side, price):
    ins = instruments(st)
    best = ins[instr, I_BEST + 1 - side]
    if best == -1:
        return False
    opposite = price_of(ins, instr, best)
    return opposite <= price if side == BUY else opposite >= price


@kernel
def execute(st, s, limit):
    """Match an incoming (or re-priced, or triggered) order, then rest or end it."""
    ords = orders(st)
    if ords[s, O_TIF] == FOK and not fok_fillable(st, s, limit):
        finish(st, s, EV_EXPIRED, R_FOK_UNFILLED)
        return
    stopped = match(st, s, limit)
    otype = ords[s, O_TYPE]
    if stopped:
        finish(st, s, EV_CANCELLED, R_STP_INCOMING)
    elif ords[s, O_LEAVES] == 0:
        forget(st, s)
    elif otype in (MARKET, SL_M):
        finish(st, s, EV_EXPIRED, R_MARKET_REMAINDER)
    elif ords[s, O_TIF] != DAY:
        finish(st, s, EV_EXPIRED, R_IOC_REMAINDER)
    else:
        rest(st, s)


@kernel
def match(st, s, limit):
    """Trade ``s`` against the opposite side; True if self-trade prevention stopped it."""
    ins, lev, ords = instruments(st), levels(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    opp = 1 - side
    acct = ords[s, O_ACCT]
    while ords[s, O_LEAVES] > 0:
        best = ins[instr, I_BEST + opp]
        if best == -1:
            return False
        price = price_of(ins, instr, best)
        if (side == BUY and price > limit) or (side == SELL and price < limit):
            return False
        row = level_row(st, instr, opp, best)
        resting = lev[row, L_HEAD]
        if ords[resting, O_ACCT] == acct:
            mode = ords[s, O_STP]
            if mode == STP_CANCEL_INCOMING:
                return True
            remove(st, resting)
            finish(st, resting, EV_CANCELLED, R_STP_RESTING)
            if mode != STP_CANCEL_RESTING:
                return True
            continue
        trade(st, s, resting, row, price, min(ords[s, O_LEAVES], ords[resting, O_VISIBLE]))
    return False


@kernel
def trade(st, s, resting, row, price, qty):
    ins, lev, ords = instruments(st), levels(st), orders(st)
    instr = ords[s, O_INSTR]
    touch(st, instr, row)
    ords[resting, O_VISIBLE] -= qty
    ords[resting, O_LEAVES] -= qty
    ords[resting, O_FILLED] += qty
    lev[row, L_QTY] -= qty
    ords[s, O_LEAVES] -= qty
    ords[s, O_FILLED] += qty
    if ords[s, O_SIDE] == BUY:
        emit_trade(st, instr, BUY, price, qty, s, resting)
    else:
        emit_trade(st, instr, SELL, price, qty, resting, s)
    ins[instr, I_LTP] = price
    at_band = price == ins[instr, I_LO] or price == ins[instr, I_HI]
    if at_band and (ins[instr, I_FLAGS] & IF_HALT_ON_BAND) != 0:
        ins[instr, I_HALT] = 1
    leaves = ords[resting, O_LEAVES]
    if leaves == 0:
        level_unlink(st, resting)
        forget(st, resting)
    elif ords[resting, O_VISIBLE] == 0:
        level_requeue(st, row, resting, min(ords[resting, O_DISCLOSED], leaves))


@kernel
def fok_fillable(st, s, limit):
    """Can ``s`` fill completely right now? Changes nothing.

    Per level, in FIFO order: if self-trade prevention would stop the order at one of its
    own resting orders, only the visible parts queued before that order can fill it (the
    refilled parts of icebergs rejoin behind it). Otherwise everything in the level can,
    hidden parts included, because refills keep cycling until the level is empty.
    """
    ins, lev, ords = instruments(st), levels(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    opp = 1 - side
    acct, mode = ords[s, O_ACCT], ords[s, O_STP]
    need = ords[s, O_LEAVES]
    idx = ins[instr, I_BEST + opp]
    while idx != -1:
        price = price_of(ins, instr, idx)
        if (side == BUY and price > limit) or (side == SELL and price < limit):
            return False
        before_self = 0
        total = 0
        r = lev[level_row(st, instr, opp, idx), L_HEAD]
        while r != -1:
            if ords[r, O_ACCT] == acct:
                if mode != STP_CANCEL_RESTING:
                    return need <= before_self
            else:
                before_self += ords[r, O_VISIBLE]
                total += ords[r, O_LEAVES]
            r = ords[r, O_NEXT]
        need -= total
        if need <= 0:
            return True
        idx = scan_best(st, instr, opp, idx + 1 if opp == SELL else idx - 1)
    return False


@kernel
def settle(st, instr):
    """After trading: halt on a band hit, otherwise fire stops until none is due."""
    ins, ords = instruments(st), orders(st)
    while True:
        if ins[instr, I_HALT] != 0:
            ins[instr, I_HALT] = 0
            if ins[instr, I_PHASE] == CONTINUOUS:
                ins[instr, I_PHASE] = HALTED
                emit(st, EV_PHASE_CHANGED, instr, 0, 0, 0, 0, 0, HALTED, CONTINUOUS,
                     R_BAND_HIT, 0, 0, 0, 0)
            return
        if ins[instr, I_PHASE] != CONTINUOUS or ins[instr, I_LTP] == 0:
            return
        s = due_stop(st, instr)
        if s == -1:
            return
        stop_unlink(st, s)
        if ords[s, O_TYPE] == SL:
            limit = ords[s, O_PRICE]
        else:
            limit = protection(ins, instr, ords[s, O_SIDE])
        emit(st, EV_TRIGGERED, instr, ords[s, O_OID], ords[s, O_ACCT],
             ords[s, O_SIDE], limit, ords[s, O_LEAVES], ords[s, O_TRIGGER], ords[s, O_TYPE],
             0, 0, 0, 0, 0)
        ords[s, O_STATE] = ST_FREE
        execute(st, s, limit)


@kernel
def due_stop(st, instr):
    """The next stop the last price has reached (lowest buy trigger, then highest sell)."""
    ins, lev = instruments(st), levels(st)
    ltp = ins[instr, I_LTP]
    idx = ins[instr, I_STOP + BUY]
    if idx != -1 and price_of(ins, instr, idx) <= ltp:
        return lev[level_row(st, instr, BUY, idx), L_SHEAD]
    idx = ins[instr, I_STOP + SELL]
    if idx != -1 and price_of(ins, instr, idx) >= ltp:
        return lev[level_row(st, instr, SELL, idx), L_SHEAD]
    return -1


