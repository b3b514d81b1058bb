"""The fast book's entry point: one numba call processes a whole batch of command rows.

``run(arena, commands, events) -> done`` applies rows in order, appending event rows to
``events`` from ``arena[G_NEV]`` on. Before each command it checks that the buffer has
room for the most events the command could produce; if not it stops and returns how many
commands it applied, and the caller grows the buffer and calls again with the rest. So a
command is never interrupted and the buffer never overflows. Per command it follows the
same steps as `engine.refbook`: validate (sharing `engine.rules`), change the book, then
report the touched levels.

The bound: every event is tied to something finite. A command can trade with or cancel at
most every live order, an iceberg at most ten times (its disclosed part is at least 10% of
its quantity), every stop fires at most once, and every touched level reports once. So 16
events per live order (the incoming one included) plus a constant covers any command.
"""

from __future__ import annotations

import numpy as np

from engine import rules
from engine.codes import RejectCode
from engine.fastbook.arena import (
    G_CAP,
    G_EV_ROWS,
    G_LIVE,
    G_MAXACCT,
    G_NEED,
    G_NEV,
    G_NINSTR,
    G_NTOUCH,
    G_SEQ,
    G_STP,
    G_TS,
    I_FLAGS,
    I_FREEZE,
    I_HI,
    I_LO,
    I_LOT,
    I_PHASE,
    I_TICK,
    L_QTY,
    O_ACCT,
    O_ANEXT,
    O_DISCLOSED,
    O_FILLED,
    O_FLAGS,
    O_IDX,
    O_INSTR,
    O_LEAVES,
    O_OID,
    O_PRICE,
    O_QTY,
    O_SIDE,
    O_STATE,
    O_STP,
    O_TIF,
    O_TRIGGER,
    O_TS,
    O_TYPE,
    O_VISIBLE,
    accounts,
    address,
    collect_into,
    header,
    instruments,
    kernel,
    levels,
    orders,
    unowned,
)
from engine.fastbook.auction import expire_all, uncross
from engine.fastbook.containers import (
    alloc,
    emit,
    emit_book_changes,
    enqueue_market,
    last_price,
    level_row,
    lookup,
    note_slots,
    protection,
    remove,
    rest,
    rest_stop,
    touch,
)
from engine.fastbook.matching import crosses, execute, finish, settle
from engine.layout import (
    C_ACCT,
    C_DISCLOSED,
    C_FLAGS,
    C_INSTR,
    C_KIND,
    C_OID,
    C_PHASE,
    C_PRECHECK,
    C_PRICE,
    C_PRODUCT,
    C_QTY,
    C_SEQ,
    C_SIDE,
    C_STP,
    C_TIF,
    C_TRIGGER,
    C_TS,
    C_TYPE,
    CLOSED,
    CONTINUOUS,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_PHASE_CHANGED,
    EV_REJECTED,
    F_POST_ONLY,
    HALTED,
    K_AMEND,
    K_CANCEL,
    K_CANCEL_ALL,
    K_NEW_ORDER,
    K_SET_PHASE,
    MARKET,
    PRE_OPEN,
    PRECHECK_PASSED,
    R_CANCEL_ALL,
    R_PHASE_COMMAND,
    R_USER,
    SL,
    SL_M,
    ST_BOOK,
    ST_FREE,
    ST_MARKET_QUEUE,
    ST_STOP,
)
from engine.transitions import transition_table

validate_new_order = rules.validate_new_order
validate_amend = rules.validate_amend
keeps_priority = rules.keeps_priority

OK = int(RejectCode.OK)
UNKNOWN_COMMAND = int(RejectCode.UNKNOWN_COMMAND)
UNKNOWN_INSTRUMENT = int(RejectCode.UNKNOWN_INSTRUMENT)
ACCOUNT_INVALID = int(RejectCode.ACCOUNT_INVALID)
CAPACITY_ORDERS = int(RejectCode.CAPACITY_ORDERS)
POST_ONLY_WOULD_TRADE = int(RejectCode.POST_ONLY_WOULD_TRADE)
ORDER_NOT_FOUND = int(RejectCode.ORDER_NOT_FOUND)
INVALID_PHASE_TRANSITION = int(RejectCode.INVALID_PHASE_TRANSITION)
TRANSITIONS = transition_table()


EVENTS_PER_ORDER = 16
EVENTS_SLACK = 64


@kernel
def events_bound(live: int) -> int:
    """The most event rows one command can produce with ``live`` orders in the book."""
    return EVENTS_SLACK + EVENTS_PER_ORDER * (live + 1)


@kernel
def run(arena: np.ndarray, cmds: np.ndarray, out: np.ndarray) -> int:
    st = address(arena)
    g = header(st)
    collect_into(g, out)
    rows = unowned(cmds)
    for i in range(rows.shape[0]):
        need = events_bound(g[G_LIVE])
        if g[G_EV_ROWS] - g[G_NEV] < need:
            g[G_NEED] = need
            return i
        dispatch(st, rows[i])
    return rows.shape[0]


@kernel
def dispatch(st, r):
    """Apply one command row: the whole per-command step of `run`."""
    g = header(st)
    g[G_SEQ] = r[C_SEQ]
    g[G_TS] = r[C_TS]
    g[G_NTOUCH] = 0
    kind = r[C_KIND]
    if kind == K_NEW_ORDER:
        new_order(st, r)
    elif kind == K_CANCEL:
        cancel(st, r)
    elif kind == K_AMEND:
        amend(st, r)
    elif kind == K_CANCEL_ALL:
        cancel_all(st, r)
    elif kind == K_SET_PHASE:
        set_phase(st, r)
    else:
        reject(st, r, UNKNOWN_COMMAND)
    emit_book_changes(st)


@kernel
def reject(st, r, code):
    emit(st, EV_REJECTED, r[C_INSTR], r[C_OID], r[C_ACCT], r[C_SIDE], r[C_PRICE],
         r[C_QTY], code, r[C_KIND], 0, 0, 0, 0, 0)


@kernel
def new_order_code(st, r):
    """Every check of a new order, in order; OK or the code it would be rejected with."""
    g, ins = header(st), instruments(st)
    code = r[C_PRECHECK]
    instr, acct = r[C_INSTR], r[C_ACCT]
    if code == PRECHECK_PASSED:
        return OK
    if code != OK:
        return code
    if instr < 0 or instr >= g[G_NINSTR]:
        return UNKNOWN_INSTRUMENT
    if acct < 0 or acct >= g[G_MAXACCT]:
        return ACCOUNT_INVALID
    code = validate_new_order(
        r[C_SIDE], r[C_TYPE], r[C_TIF], r[C_FLAGS], r[C_STP], r[C_PRODUCT], r[C_PRICE],
        r[C_QTY], r[C_TRIGGER], r[C_DISCLOSED], ins[instr, I_PHASE], ins[instr, I_TICK],
        ins[instr, I_LOT], ins[instr, I_FREEZE], ins[instr, I_LO], ins[instr, I_HI],
        ins[instr, I_FLAGS], last_price(ins, instr),
    )
    if code != OK:
        return code
    if g[G_LIVE] >= g[G_CAP]:
        return CAPACITY_ORDERS
    post_only = (r[C_FLAGS] & F_POST_ONLY) != 0
    if post_only and crosses(st, instr, r[C_SIDE], r[C_PRICE]):
        return POST_ONLY_WOULD_TRADE
    return OK


@kernel
def new_order(st, r):
    g, ins, ords = header(st), instruments(st), orders(st)
    code = new_order_code(st, r)
    if code != OK:
        reject(st, r, code)
        return
    instr, acct = r[C_INSTR], r[C_ACCT]
    s = alloc(st, r[C_OID], acct)
    ords[s, O_INSTR] = instr
    ords[s, O_SIDE] = r[C_SIDE]
    ords[s, O_TYPE] = r[C_TYPE]
    ords[s, O_TIF] = r[C_TIF]
    ords[s, O_FLAGS] = r[C_FLAGS]
    ords[s, O_STP] = r[C_STP] if r[C_STP] != 0 else g[G_STP]
    ords[s, O_PRICE] = r[C_PRICE]
    ords[s, O_TRIGGER] = r[C_TRIGGER]
    ords[s, O_QTY] = r[C_QTY]
    ords[s, O_LEAVES] = r[C_QTY]
    ords[s, O_VISIBLE] = 0
    ords[s, O_DISCLOSED] = r[C_DISCLOSED]
    ords[s, O_FILLED] = 0
    ords[s, O_STATE] = ST_FREE
    ords[s, O_TS] = g[G_TS]
    phase = ins[instr, I_PHASE]
    otype = r[C_TYPE]
    guard = 0
    if otype == MARKET and phase == CONTINUOUS:
        guard = protection(ins, instr, r[C_SIDE])
    emit(st, EV_ACCEPTED, instr, r[C_OID], acct, r[C_SIDE], r[C_PRICE], r[C_QTY],
         otype, r[C_TIF], r[C_TRIGGER], r[C_DISCLOSED], r[C_FLAGS] | (r[C_PRODUCT] << 8), guard,
         ords[s, O_STP])
    note_slots(st, s, -1)
    if phase == PRE_OPEN:
        if otype == MARKET:
            enqueue_market(st, s)
        else:
            rest(st, s)
    elif otype in (SL, SL_M):
        rest_stop(st, s)
    else:
        execute(st, s, guard if otype == MARKET else r[C_PRICE])
        settle(st, instr)


@kernel
def _owned(st, r):
    """Slot of the live order the row targets, if it belongs to the row's account, else -1."""
    s = lookup(st, r[C_OID])
    if s == -1 or orders(st)[s, O_ACCT] != r[C_ACCT]:
        return -1
    return s


@kernel
def cancel(st, r):
    s = _owned(st, r)
    if s == -1:
        reject(st, r, ORDER_NOT_FOUND)
        return
    remove(st, s)
    # The core's own cancels (kill switch, square-off) carry their reason in TYPE.
    reason = r[C_TYPE] if r[C_TYPE] != 0 else R_USER
    finish(st, s, EV_CANCELLED, reason)


@kernel
def amend_code(st, r):
    """Every check of an amendment, in order; OK or the code it would be rejected with."""
    if r[C_PRECHECK] == PRECHECK_PASSED:
        return OK
    if r[C_PRECHECK] != OK:  # found by the core before the book (pre-trade risk)
        return r[C_PRECHECK]
    ins, ords = instruments(st), orders(st)
    s = _owned(st, r)
    if s == -1:
        return ORDER_NOT_FOUND
    instr = ords[s, O_INSTR]
    phase = ins[instr, I_PHASE]
    code = validate_amend(
        ords[s, O_STATE], ords[s, O_SIDE], ords[s, O_TYPE], ords[s, O_PRICE], ords[s, O_QTY],
        ords[s, O_FILLED], ords[s, O_TRIGGER], ords[s, O_DISCLOSED], r[C_PRICE], r[C_QTY],
        r[C_TRIGGER], r[C_DISCLOSED], phase, ins[instr, I_TICK], ins[instr, I_LOT],
        ins[instr, I_FREEZE], ins[instr, I_LO], ins[instr, I_HI], ins[instr, I_FLAGS],
        last_price(ins, instr),
    )
    post_only = (ords[s, O_FLAGS] & F_POST_ONLY) != 0 and phase == CONTINUOUS
    reprices = code == OK and post_only and r[C_PRICE] != 0
    if reprices and crosses(st, instr, ords[s, O_SIDE], r[C_PRICE]):
        code = POST_ONLY_WOULD_TRADE
    return code


@kernel
def amend(st, r):
    ins, lev, ords = instruments(st), levels(st), orders(st)
    code = amend_code(st, r)
    if code != OK:
        reject(st, r, code)
        return
    s = _owned(st, r)
    instr = ords[s, O_INSTR]
    phase = ins[instr, I_PHASE]
    new_price, new_qty, new_trigger, new_disclosed = (
        r[C_PRICE], r[C_QTY], r[C_TRIGGER], r[C_DISCLOSED]
    )
    cur_price, cur_qty = ords[s, O_PRICE], ords[s, O_QTY]
    cur_trigger, cur_disclosed = ords[s, O_TRIGGER], ords[s, O_DISCLOSED]
    price = new_price if new_price != 0 else cur_price
    qty = new_qty if new_qty != 0 else cur_qty
    trigger = new_trigger if new_trigger != 0 else cur_trigger
    disclosed = cur_disclosed if new_disclosed == rules.KEEP_DISCLOSED else new_disclosed
    side = ords[s, O_SIDE]
    state = ords[s, O_STATE]
    if keeps_priority(cur_price, cur_qty, cur_trigger, cur_disclosed,
                      price, qty, trigger, disclosed):
        ords[s, O_LEAVES] -= cur_qty - qty
        ords[s, O_QTY] = qty
        if state == ST_BOOK:
            row = level_row(st, instr, side, ords[s, O_IDX])
            visible = min(ords[s, O_VISIBLE], ords[s, O_LEAVES])
            lev[row, L_QTY] += visible - ords[s, O_VISIBLE]
            ords[s, O_VISIBLE] = visible
            touch(st, instr, row)
        emit(st, EV_AMENDED, instr, ords[s, O_OID], ords[s, O_ACCT], side, price,
             qty, ords[s, O_LEAVES], 1, trigger, disclosed, 0, 0, 0)
        note_slots(st, s, -1)
        return
    remove(st, s)
    ords[s, O_LEAVES] += qty - cur_qty
    ords[s, O_PRICE] = price
    ords[s, O_QTY] = qty
    ords[s, O_TRIGGER] = trigger
    ords[s, O_DISCLOSED] = disclosed
    emit(st, EV_AMENDED, instr, ords[s, O_OID], ords[s, O_ACCT], side, price, qty,
         ords[s, O_LEAVES], 0, trigger, disclosed, 0, 0, 0)
    note_slots(st, s, -1)
    if state == ST_STOP:
        rest_stop(st, s)
    elif state == ST_MARKET_QUEUE:
        enqueue_market(st, s)
    elif phase == CONTINUOUS:
        execute(st, s, price)
        settle(st, instr)
    else:
        rest(st, s)


@kernel
def cancel_all(st, r):
    g, ords, accts = header(st), orders(st), accounts(st)
    acct, instr = r[C_ACCT], r[C_INSTR]
    if acct < 0 or acct >= g[G_MAXACCT]:
        reject(st, r, ACCOUNT_INVALID)
        return
    if instr != -1 and (instr < 0 or instr >= g[G_NINSTR]):
        reject(st, r, UNKNOWN_INSTRUMENT)
        return
    s = accts[acct, 0]
    while s != -1:
        nxt = ords[s, O_ANEXT]
        if instr == -1 or ords[s, O_INSTR] == instr:
            remove(st, s)
            finish(st, s, EV_CANCELLED, R_CANCEL_ALL)
        s = nxt


@kernel
def set_phase(st, r):
    g, ins = header(st), instruments(st)
    instr, target = r[C_INSTR], r[C_PHASE]
    if instr < 0 or instr >= g[G_NINSTR]:
        reject(st, r, UNKNOWN_INSTRUMENT)
        return
    old = ins[instr, I_PHASE]
    size = TRANSITIONS.shape[0]
    if target < 0 or target >= size or TRANSITIONS[old, target] == 0:
        reject(st, r, INVALID_PHASE_TRANSITION)
        return
    if target == CLOSED:
        expire_all(st, instr)
    elif target == CONTINUOUS and old in (PRE_OPEN, HALTED):
        uncross(st, instr)
    ins[instr, I_PHASE] = target
    emit(st, EV_PHASE_CHANGED, instr, 0, 0, 0, 0, 0, target, old, R_PHASE_COMMAND,
         0, 0, 0, 0)
    if target == CONTINUOUS:
        settle(st, instr)
