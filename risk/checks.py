"""Pre-trade checks in numba, mirroring `risk.reference` (`_check_new`, `_check_amend`).

A check runs only when the book would accept the command on its own grounds, so a client
always learns about a bad price before a lack of funds. It answers OK when the book will
reject the command itself, a reject code, or PRECHECK_PASSED when the command passed the
book's checks and the account's (so the book need not run its own again). On success it
leaves what the order will block in the header's scratch (need, reducing quantity, block
price, margin rate, position row) for the ACCEPTED or AMENDED event that follows; a
rejection changes nothing.
"""

from __future__ import annotations

from engine.codes import RejectCode
from engine.fastbook.arena import (
    I_HI,
    I_LO,
    I_PHASE,
    I_PROT,
    I_TICK,
    O_TYPE,
)
from engine.fastbook.arena import instruments as book_instruments
from engine.fastbook.arena import orders as book_orders
from engine.fastbook.containers import last_price, lookup
from engine.fastbook.kernel import amend_code, new_order_code
from engine.layout import (
    BUY,
    C_ACCT,
    C_FLAGS,
    C_INSTR,
    C_OID,
    C_PRICE,
    C_PRODUCT,
    C_QTY,
    C_SIDE,
    C_TRIGGER,
    C_TS,
    C_TYPE,
    CNC,
    F_RISK_REDUCING,
    MIS,
    PRECHECK_PASSED,
    SELL,
    SL_M,
)
from portfolio.arena import (
    A_BLOCKED,
    A_CASH,
    A_CREDIT,
    A_KILLED,
    A_MARGIN,
    A_MAX_LONG,
    A_MAX_OPEN,
    A_MAX_SHORT,
    A_MAX_VALUE,
    A_OPEN,
    A_RATE,
    A_TOKEN_TS,
    A_TOKENS,
    H_INTRADAY_CLOSED,
    H_KILL,
    H_P_BP,
    H_P_NEED,
    H_P_RATE,
    H_P_REDUCE,
    H_P_SLOT,
    H_PENDING,
    H_POS_FREE,
    P_NET,
    P_OPEN_BUY,
    P_OPEN_SELL,
    Q_ACCT,
    Q_BLOCKED,
    Q_BP,
    Q_INSTR,
    Q_LEAVES,
    Q_POS,
    Q_PRODUCT,
    Q_QTY,
    Q_RATE,
    Q_REDUCE,
    Q_SIDE,
    R_KILLED,
    R_PRODUCTS,
    R_RATE,
    accounts,
    header,
    instrument_risk,
    kernel,
    orders,
    positions,
)
from portfolio.positions import find_position
from risk import rules

OK = int(RejectCode.OK)
KILL_SWITCH_GLOBAL = int(RejectCode.KILL_SWITCH_GLOBAL)
KILL_SWITCH_ACCOUNT = int(RejectCode.KILL_SWITCH_ACCOUNT)
KILL_SWITCH_INSTRUMENT = int(RejectCode.KILL_SWITCH_INSTRUMENT)
THROTTLED = int(RejectCode.THROTTLED)
PRODUCT_NOT_ALLOWED = int(RejectCode.PRODUCT_NOT_ALLOWED)
MAX_OPEN_ORDERS = int(RejectCode.MAX_OPEN_ORDERS)
MAX_ORDER_VALUE = int(RejectCode.MAX_ORDER_VALUE)
POSITION_LIMIT = int(RejectCode.POSITION_LIMIT)
NO_HOLDINGS = int(RejectCode.NO_HOLDINGS)
INSUFFICIENT_FUNDS = int(RejectCode.INSUFFICIENT_FUNDS)
INTRADAY_CUTOFF = int(RejectCode.INTRADAY_CUTOFF)
CAPACITY_POSITIONS = int(RejectCode.CAPACITY_POSITIONS)


@kernel
def buying_power(accts, acct):
    return (accts[acct, A_CASH] + accts[acct, A_CREDIT] - accts[acct, A_BLOCKED]
            - accts[acct, A_MARGIN])


@kernel
def position_limit(accts, acct, side, qty, net, open_buy, open_sell):
    """Long and short limits against the worst case of every open order filling."""
    max_long, max_short = accts[acct, A_MAX_LONG], accts[acct, A_MAX_SHORT]
    if side == BUY and max_long > 0 and net + open_buy + qty > max_long:
        return POSITION_LIMIT
    if side == SELL and max_short > 0 and open_sell + qty - net > max_short:
        return POSITION_LIMIT
    return OK


@kernel
def throttled(accts, acct, ts):
    rate = accts[acct, A_RATE]
    if rate <= 0:
        return False
    return rules.refilled(accts[acct, A_TOKENS], accts[acct, A_TOKEN_TS], rate, ts) < rules.TOKEN


@kernel
def pend(rst, need, reduce, bp, rate, slot):
    """Keep what the order will block for `risk.apply.accepted`; the order passed."""
    h = header(rst)
    h[H_PENDING], h[H_P_NEED], h[H_P_REDUCE], h[H_P_BP], h[H_P_RATE] = 1, need, reduce, bp, rate
    h[H_P_SLOT] = slot
    return PRECHECK_PASSED


@kernel
def kill_switch_code(h, accts, irisk, acct, instr):
    if h[H_KILL] != 0:
        return KILL_SWITCH_GLOBAL
    if accts[acct, A_KILLED] != 0:
        return KILL_SWITCH_ACCOUNT
    if irisk[instr, R_KILLED] != 0:
        return KILL_SWITCH_INSTRUMENT
    return OK


@kernel
def check_new(bst, rst, r):
    if new_order_code(bst, r) != OK:
        return OK  # the book rejects it with its own code
    h, accts, irisk = header(rst), accounts(rst), instrument_risk(rst)
    acct, instr, side, product, qty = r[C_ACCT], r[C_INSTR], r[C_SIDE], r[C_PRODUCT], r[C_QTY]
    reducing = (r[C_FLAGS] & F_RISK_REDUCING) != 0
    if not reducing:
        code = kill_switch_code(h, accts, irisk, acct, instr)
        if code != OK:
            return code
    if (irisk[instr, R_PRODUCTS] & (1 << product)) == 0:
        return PRODUCT_NOT_ALLOWED
    if not reducing:
        if throttled(accts, acct, r[C_TS]):
            return THROTTLED
        if accts[acct, A_MAX_OPEN] > 0 and accts[acct, A_OPEN] >= accts[acct, A_MAX_OPEN]:
            return MAX_OPEN_ORDERS
    ins = book_instruments(bst)
    bp = rules.block_price(r[C_TYPE], side, r[C_PRICE], r[C_TRIGGER], ins[instr, I_PHASE],
                           last_price(ins, instr), ins[instr, I_PROT], ins[instr, I_TICK],
                           ins[instr, I_LO], ins[instr, I_HI])
    if not reducing and accts[acct, A_MAX_VALUE] > 0 and qty * bp > accts[acct, A_MAX_VALUE]:
        return MAX_ORDER_VALUE
    slot = find_position(rst, acct, instr, product)
    if slot == -1 and h[H_POS_FREE] == -1:
        return CAPACITY_POSITIONS
    net = open_buy = open_sell = 0
    if slot != -1:
        pos = positions(rst)
        net, open_buy, open_sell = pos[slot, P_NET], pos[slot, P_OPEN_BUY], pos[slot, P_OPEN_SELL]
    code = position_limit(accts, acct, side, qty, net, open_buy, open_sell)
    if code != OK:
        return code
    if product == CNC and side == SELL and qty > max(0, net) - open_sell:
        return NO_HOLDINGS
    rate = irisk[instr, R_RATE + product]
    if product == CNC and side == SELL:
        reduce = qty
    else:
        reduce = min(qty, rules.reducible(side, net, open_buy, open_sell))
    if product == MIS and reduce < qty and rules.ist_day(r[C_TS]) <= h[H_INTRADAY_CLOSED]:
        return INTRADAY_CUTOFF
    need = rules.need_for(product, side, qty, reduce, bp, rate)
    if need > buying_power(accts, acct):
        return INSUFFICIENT_FUNDS
    return pend(rst, need, reduce, bp, rate, slot)


@kernel
def amended_block_price(bst, r, side, instr, old):
    """A new limit price blocks at itself; a stop-market order's new trigger moves its
    protection price; otherwise the order keeps its block price."""
    if r[C_PRICE] != 0:
        return r[C_PRICE]
    if r[C_TRIGGER] != 0 and book_orders(bst)[lookup(bst, r[C_OID]), O_TYPE] == SL_M:
        ins = book_instruments(bst)
        return rules.block_price(SL_M, side, 0, r[C_TRIGGER], ins[instr, I_PHASE],
                                 last_price(ins, instr), ins[instr, I_PROT], ins[instr, I_TICK],
                                 ins[instr, I_LO], ins[instr, I_HI])
    return old


@kernel
def check_amend(bst, rst, r):
    if amend_code(bst, r) != OK:
        return OK
    h, accts, irisk, ords = header(rst), accounts(rst), instrument_risk(rst), orders(rst)
    q = lookup(bst, r[C_OID])  # the book's slot, which is the order's row here too
    acct, instr = ords[q, Q_ACCT], ords[q, Q_INSTR]
    code = kill_switch_code(h, accts, irisk, acct, instr)
    if code != OK:
        return code
    if throttled(accts, acct, r[C_TS]):
        return THROTTLED
    old_qty, old_leaves = ords[q, Q_QTY], ords[q, Q_LEAVES]
    qty = r[C_QTY] if r[C_QTY] != 0 else old_qty
    leaves = qty - (old_qty - old_leaves)
    side, product = ords[q, Q_SIDE], ords[q, Q_PRODUCT]
    bp = amended_block_price(bst, r, side, instr, ords[q, Q_BP])
    if accts[acct, A_MAX_VALUE] > 0 and leaves * bp > accts[acct, A_MAX_VALUE]:
        return MAX_ORDER_VALUE
    pos = positions(rst)
    slot = ords[q, Q_POS]
    grow = leaves - old_leaves
    if grow > 0:
        open_buy = pos[slot, P_OPEN_BUY] + (grow if side == BUY else 0)
        open_sell = pos[slot, P_OPEN_SELL] + (grow if side == SELL else 0)
        if position_limit(accts, acct, side, 0, pos[slot, P_NET], open_buy, open_sell) != OK:
            return POSITION_LIMIT
        if product == CNC and side == SELL and open_sell > max(0, pos[slot, P_NET]):
            return NO_HOLDINGS
    reduce = min(ords[q, Q_REDUCE], leaves)
    if product == MIS and grow > 0 and rules.ist_day(r[C_TS]) <= h[H_INTRADAY_CLOSED]:
        return INTRADAY_CUTOFF
    rate = ords[q, Q_RATE]
    need = rules.need_for(product, side, leaves, reduce, bp, rate)
    if need - ords[q, Q_BLOCKED] > buying_power(accts, acct):
        return INSUFFICIENT_FUNDS
    return pend(rst, need, reduce, bp, rate, slot)
