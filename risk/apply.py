"""The book's events applied to the numba account side, and the account commands.

Mirrors `risk.reference` (`_apply_event` and what it calls, `_account_command`, `_mark`),
event by event and in the same order, so that both implementations produce the same
ledger events and end in the same canonical state.
"""

from __future__ import annotations

from engine.codes import RejectCode
from engine.fastbook.arena import EV_SLOT, EV_SLOT_SELL
from engine.fastbook.arena import events as book_event_buffer
from engine.fastbook.arena import instruments as book_instruments
from engine.fastbook.containers import emit, last_price
from engine.fastbook.kernel import reject
from engine.layout import (
    BUY,
    C_ACCT,
    C_AMOUNT,
    C_CREDIT,
    C_FLAGS,
    C_KIND,
    C_MAX_LONG,
    C_MAX_OPEN_ORDERS,
    C_MAX_ORDER_VALUE,
    C_MAX_SHORT,
    C_RATE,
    C_TS,
    E_A,
    E_ACCT,
    E_E,
    E_INSTR,
    E_KIND,
    E_OID,
    E_PRICE,
    E_QTY,
    E_SIDE,
    EV_ACCEPTED,
    EV_AMENDED,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_LEDGER,
    EV_LIMITS_SET,
    EV_MARGIN_CALL,
    EV_RESTATED,
    EV_TRADED,
    F_RISK_REDUCING,
    K_DEPOSIT,
    K_MARK,
    K_SET_LIMITS,
    LA_BANK,
    LA_CLIENT,
    LE_DEPOSIT,
    LE_WITHDRAWAL,
)
from portfolio.arena import (
    A_BASIS_M,
    A_BLOCKED,
    A_CASH,
    A_CREDIT,
    A_DAY_BROKERAGE,
    A_EQUITY,
    A_IN_CALL,
    A_MARGIN,
    A_MAX_LONG,
    A_MAX_OPEN,
    A_MAX_SHORT,
    A_MAX_VALUE,
    A_OPEN,
    A_RATE,
    A_TOKEN_TS,
    A_TOKENS,
    A_UNREAL,
    H_ACTIVE,
    H_MAINT,
    H_MAXACCT,
    H_NINSTR,
    H_ORD_LIVE,
    H_P_BP,
    H_P_NEED,
    H_P_RATE,
    H_P_REDUCE,
    H_P_SLOT,
    H_PENDING,
    P_OPEN_BUY,
    P_OPEN_SELL,
    Q_ACCT,
    Q_BLOCKED,
    Q_BP,
    Q_INSTR,
    Q_LEAVES,
    Q_OID,
    Q_POS,
    Q_PRODUCT,
    Q_QTY,
    Q_RATE,
    Q_REDUCE,
    Q_SIDE,
    Q_TURNOVER,
    R_MARK,
    R_SEGMENT,
    accounts,
    header,
    instrument_risk,
    kernel,
    mtm_matrix,
    orders,
    positions,
)
from portfolio.positions import activate, fill_position, open_position, transfer
from risk import rules

ACCOUNT_INVALID = int(RejectCode.ACCOUNT_INVALID)
LIMITS_INVALID = int(RejectCode.LIMITS_INVALID)
AMOUNT_INVALID = int(RejectCode.AMOUNT_INVALID)
WITHDRAWAL_EXCEEDS_FREE_CASH = int(RejectCode.WITHDRAWAL_EXCEEDS_FREE_CASH)


@kernel
def apply_events(bst, rst, r, start, end):
    """Apply the book's events ``start``..``end`` of the current command. The buffer is
    slotted: each event names the book's slot of its order(s), which is also the row of the
    order on this side."""
    ev = book_event_buffer(bst)
    for k in range(start, end):
        kind, q = ev[k, E_KIND], ev[k, EV_SLOT]
        if kind == EV_ACCEPTED:
            accepted(rst, r, ev[k], q)
        elif kind == EV_TRADED:
            fill(bst, rst, ev[k, E_OID], q, ev[k, E_QTY], ev[k, E_PRICE])
            fill(bst, rst, ev[k, E_OID], ev[k, EV_SLOT_SELL], ev[k, E_QTY], ev[k, E_PRICE])
        elif kind in (EV_CANCELLED, EV_EXPIRED):
            finish(rst, q)
        elif kind == EV_AMENDED:
            amended(rst, r, ev[k], q)
        elif kind == EV_RESTATED:
            ords = orders(rst)
            reblock(rst, q, ords[q, Q_LEAVES], ords[q, Q_REDUCE], ev[k, E_PRICE])


@kernel
def take_token(accts, acct, ts):
    rate = accts[acct, A_RATE]
    if rate > 0:
        accts[acct, A_TOKENS] = rules.refilled(accts[acct, A_TOKENS], accts[acct, A_TOKEN_TS],
                                               rate, ts) - rules.TOKEN
        accts[acct, A_TOKEN_TS] = ts


@kernel
def accepted(rst, r, e, q):
    """The order the check passed is on the book in slot ``q``: it blocks what the check
    found it needs."""
    h, accts, ords = header(rst), accounts(rst), orders(rst)
    acct, instr, side, qty = e[E_ACCT], e[E_INSTR], e[E_SIDE], e[E_QTY]
    product = e[E_E] >> 8
    need, reduce = h[H_P_NEED], h[H_P_REDUCE]
    h[H_PENDING] = 0
    h[H_ORD_LIVE] += 1
    activate(rst, acct)  # its row changes (funds blocked, tokens): state() must see it
    slot = h[H_P_SLOT]
    if slot == -1:
        slot = open_position(rst, acct, instr, product)
    ords[q, Q_OID], ords[q, Q_ACCT], ords[q, Q_INSTR] = e[E_OID], acct, instr
    ords[q, Q_PRODUCT], ords[q, Q_SIDE], ords[q, Q_QTY], ords[q, Q_LEAVES] = (
        product, side, qty, qty)
    ords[q, Q_REDUCE], ords[q, Q_BP], ords[q, Q_RATE] = reduce, h[H_P_BP], h[H_P_RATE]
    ords[q, Q_BLOCKED], ords[q, Q_TURNOVER], ords[q, Q_POS] = need, 0, slot
    accts[acct, A_BLOCKED] += need
    accts[acct, A_OPEN] += 1
    pos = positions(rst)
    if side == BUY:
        pos[slot, P_OPEN_BUY] += qty
    else:
        pos[slot, P_OPEN_SELL] += qty
    if (r[C_FLAGS] & F_RISK_REDUCING) == 0:
        take_token(accts, acct, r[C_TS])


@kernel
def amended(rst, r, e, q):
    h, accts, ords, pos = header(rst), accounts(rst), orders(rst), positions(rst)
    acct, slot = ords[q, Q_ACCT], ords[q, Q_POS]
    grow = e[E_A] - ords[q, Q_LEAVES]
    if ords[q, Q_SIDE] == BUY:
        pos[slot, P_OPEN_BUY] += grow
    else:
        pos[slot, P_OPEN_SELL] += grow
    need = h[H_P_NEED]
    h[H_PENDING] = 0
    ords[q, Q_QTY], ords[q, Q_LEAVES] = e[E_QTY], e[E_A]
    ords[q, Q_REDUCE], ords[q, Q_BP] = h[H_P_REDUCE], h[H_P_BP]
    accts[acct, A_BLOCKED] += need - ords[q, Q_BLOCKED]
    ords[q, Q_BLOCKED] = need
    take_token(accts, acct, r[C_TS])


@kernel
def reblock(rst, q, leaves, reduce, bp):
    accts, ords = accounts(rst), orders(rst)
    need = rules.need_for(ords[q, Q_PRODUCT], ords[q, Q_SIDE], leaves, reduce, bp,
                          ords[q, Q_RATE])
    accts[ords[q, Q_ACCT], A_BLOCKED] += need - ords[q, Q_BLOCKED]
    ords[q, Q_LEAVES], ords[q, Q_REDUCE], ords[q, Q_BP], ords[q, Q_BLOCKED] = (
        leaves, reduce, bp, need)


@kernel
def fill(bst, rst, trade_id, q, qty, price):
    ords, pos = orders(rst), positions(rst)
    slot, side = ords[q, Q_POS], ords[q, Q_SIDE]
    if side == BUY:
        pos[slot, P_OPEN_BUY] -= qty
    else:
        pos[slot, P_OPEN_SELL] -= qty
    ords[q, Q_TURNOVER] += qty * price
    reduce = ords[q, Q_REDUCE]
    reblock(rst, q, ords[q, Q_LEAVES] - qty, reduce - min(qty, reduce), ords[q, Q_BP])
    fill_position(bst, rst, slot, side, qty, price, ords[q, Q_RATE], trade_id)
    if ords[q, Q_LEAVES] == 0:
        finish(rst, q)


@kernel
def finish(rst, q):
    """The order is done (filled, cancelled or expired): release what it still blocks."""
    h, accts, ords, pos = header(rst), accounts(rst), orders(rst), positions(rst)
    acct, slot = ords[q, Q_ACCT], ords[q, Q_POS]
    if ords[q, Q_SIDE] == BUY:
        pos[slot, P_OPEN_BUY] -= ords[q, Q_LEAVES]
    else:
        pos[slot, P_OPEN_SELL] -= ords[q, Q_LEAVES]
    accts[acct, A_BLOCKED] -= ords[q, Q_BLOCKED]
    accts[acct, A_OPEN] -= 1
    segment = instrument_risk(rst)[ords[q, Q_INSTR], R_SEGMENT]
    accts[acct, A_DAY_BROKERAGE] += rules.order_brokerage(ords[q, Q_PRODUCT], segment,
                                                          ords[q, Q_TURNOVER])
    ords[q, Q_OID] = 0  # the row is free; `accepted` writes every column when it is reused
    h[H_ORD_LIVE] -= 1


# --- account commands --------------------------------------------------------------------------

@kernel
def account_command(bst, rst, r):
    h, accts = header(rst), accounts(rst)
    kind, acct = r[C_KIND], r[C_ACCT]
    if kind == K_MARK:
        mark(bst, rst)
        return
    if acct < 0 or acct >= h[H_MAXACCT]:
        reject(bst, r, ACCOUNT_INVALID)
        return
    if kind == K_SET_LIMITS:
        credit, max_value, max_open = r[C_CREDIT], r[C_MAX_ORDER_VALUE], r[C_MAX_OPEN_ORDERS]
        max_long, max_short, rate = r[C_MAX_LONG], r[C_MAX_SHORT], r[C_RATE]
        if min(min(credit, max_value), min(min(max_open, max_long), min(max_short, rate))) < 0:
            reject(bst, r, LIMITS_INVALID)
            return
        accts[acct, A_CREDIT], accts[acct, A_MAX_VALUE], accts[acct, A_MAX_OPEN] = (
            credit, max_value, max_open)
        accts[acct, A_MAX_LONG], accts[acct, A_MAX_SHORT], accts[acct, A_RATE] = (
            max_long, max_short, rate)
        accts[acct, A_TOKENS], accts[acct, A_TOKEN_TS] = rate * rules.TOKEN, r[C_TS]
        activate(rst, acct)  # a credit limit counts towards its equity
        emit(bst, EV_LIMITS_SET, -1, 0, acct, 0, 0, 0, credit, max_value, max_open, max_long,
             max_short, rate, 0)
        return
    amount = r[C_AMOUNT]
    if amount <= 0:
        reject(bst, r, AMOUNT_INVALID)
        return
    if kind == K_DEPOSIT:
        debit, credit, entry = LA_BANK, LA_CLIENT, LE_DEPOSIT
    else:
        free = accts[acct, A_CASH] - accts[acct, A_BLOCKED] - accts[acct, A_MARGIN]
        if amount > free:
            reject(bst, r, WITHDRAWAL_EXCEEDS_FREE_CASH)
            return
        debit, credit, entry = LA_CLIENT, LA_BANK, LE_WITHDRAWAL
    transfer(rst, acct, debit, credit, amount)
    emit(bst, EV_LEDGER, -1, 0, acct, entry, 0, 0, debit, credit, amount, 0, 0, 0, 0)


@kernel
def mark(bst, rst):
    """Mark margin positions at the last prices (one dense pass over every account that
    ever had cash, credit or a position) and report accounts entering or leaving a margin
    call."""
    h, accts, irisk = header(rst), accounts(rst), instrument_risk(rst)
    ins = book_instruments(bst)
    n = h[H_NINSTR]
    for i in range(n):
        irisk[i, R_MARK] = last_price(ins, i)
    marks = irisk[:n, R_MARK].copy()
    matrix = mtm_matrix(rst)
    maintenance_bps = h[H_MAINT]
    for a in range(h[H_ACTIVE]):
        held = 0
        row = matrix[a]
        for i in range(n):
            held += row[i] * marks[i]
        margin = accts[a, A_MARGIN]
        unrealised = held - accts[a, A_BASIS_M]
        equity = accts[a, A_CASH] + accts[a, A_CREDIT] + unrealised
        accts[a, A_UNREAL], accts[a, A_EQUITY] = unrealised, equity
        maintenance = rules.ceil_div(margin * maintenance_bps, rules.BPS)
        in_call = 1 if margin > 0 and equity < maintenance else 0
        if in_call != accts[a, A_IN_CALL]:
            accts[a, A_IN_CALL] = in_call
            emit(bst, EV_MARGIN_CALL, -1, 0, a, 0, 0, 0, in_call, equity, maintenance,
                 unrealised, 0, 0, 0)
