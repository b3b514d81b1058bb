"""Positions and the ledger in the numba account side: lookup, fills, transfers.

Mirrors `risk.reference` (`_fill`, `transfer`): a fill moves the position with
`risk.rules.apply_fill`; a delivery fill moves the trade value between the client's cash and
the clearing account, an intraday/carry-forward fill moves its realised P&L; margin held by
the position follows its open cost; the mark-to-market matrix and the account's margin
basis follow the net quantity and cost of margin positions. Every cash movement is a LEDGER
event and a transfer between two ledger accounts, so the ledger balances by construction.
"""

from __future__ import annotations

from engine.fastbook import index
from engine.fastbook.containers import emit
from engine.layout import (
    BUY,
    CNC,
    EV_LEDGER,
    LA_CLEARING,
    LA_CLIENT,
    LE_REALISED_PNL,
    LE_TRADE_VALUE,
)
from portfolio.arena import (
    A_BASIS_M,
    A_CASH,
    A_MARGIN,
    H_ACTIVE,
    H_LEDGER,
    H_MAXINSTR,
    H_NINSTR,
    H_POS_FREE,
    H_POS_LIVE,
    H_POS_MASK,
    P_ACCT,
    P_BASIS,
    P_DAY_BUY_QTY,
    P_DAY_BUY_VAL,
    P_DAY_SELL_QTY,
    P_DAY_SELL_VAL,
    P_INSTR,
    P_KEY,
    P_MARGIN,
    P_NET,
    P_NEXT,
    P_PRODUCT,
    P_REALISED,
    PW,
    accounts,
    header,
    kernel,
    mtm_matrix,
    position_index,
    positions,
)
from risk import rules


@kernel
def position_key(rst, acct, instr, product):
    return (acct * header(rst)[H_MAXINSTR] + instr) * 4 + product + 1


@kernel
def find_position(rst, acct, instr, product):
    h = header(rst)
    return index.get(position_index(rst), h[H_POS_MASK], position_key(rst, acct, instr, product))


@kernel
def account_position_slots(rst, acct, out):
    """The rows of ``acct``'s positions by instrument, then product, into ``out``; their
    count. Probes the index instead of scanning the table: the cost follows the number of
    instruments, not of positions."""
    n = 0
    for instr in range(header(rst)[H_NINSTR]):
        for product in range(1, 4):
            slot = find_position(rst, acct, instr, product)
            if slot != -1:
                out[n] = slot
                n += 1
    return n


@kernel
def accounts_position_slots(rst, accts, out):
    """`account_position_slots` of each of ``accts`` in turn, into ``out`` (room for
    ``len(accts)`` times the instruments times three); their count."""
    n = 0
    nprod = header(rst)[H_NINSTR]
    for a in range(len(accts)):
        for instr in range(nprod):
            for product in range(1, 4):
                slot = find_position(rst, accts[a], instr, product)
                if slot != -1:
                    out[n] = slot
                    n += 1
    return n


@kernel
def activate(rst, acct):
    """``acct``'s row changes (cash, credit, a position, an order): the mark and the
    canonical state must see it."""
    h = header(rst)
    if acct >= h[H_ACTIVE]:
        h[H_ACTIVE] = acct + 1


@kernel
def open_position(rst, acct, instr, product):
    """The position's row, created flat if it does not exist (-1 when the table is full)."""
    slot = find_position(rst, acct, instr, product)
    if slot != -1:
        return slot
    activate(rst, acct)
    h, pos = header(rst), positions(rst)
    slot = h[H_POS_FREE]
    if slot == -1:
        return -1
    h[H_POS_FREE] = pos[slot, P_NEXT]
    h[H_POS_LIVE] += 1
    for f in range(PW):
        pos[slot, f] = 0
    key = position_key(rst, acct, instr, product)
    pos[slot, P_KEY], pos[slot, P_ACCT], pos[slot, P_INSTR] = key, acct, instr
    pos[slot, P_PRODUCT] = product
    index.put(position_index(rst), h[H_POS_MASK], key, slot)
    return slot


@kernel
def close_position(rst, slot):
    """Forget a flat position with no open orders (at the end of the day)."""
    h, pos = header(rst), positions(rst)
    index.remove(position_index(rst), h[H_POS_MASK], pos[slot, P_KEY])
    pos[slot, P_KEY] = 0
    pos[slot, P_NEXT] = h[H_POS_FREE]
    h[H_POS_FREE] = slot
    h[H_POS_LIVE] -= 1


@kernel
def transfer(rst, acct, debit, credit, amount):
    """Move ``amount`` between two ledger accounts (CLIENT: the account's cash)."""
    h, accts = header(rst), accounts(rst)
    if debit == LA_CLIENT or credit == LA_CLIENT:
        activate(rst, acct)
    if debit == LA_CLIENT:
        accts[acct, A_CASH] -= amount
    else:
        h[H_LEDGER + debit - 1] -= amount
    if credit == LA_CLIENT:
        accts[acct, A_CASH] += amount
    else:
        h[H_LEDGER + credit - 1] += amount


@kernel
def post(bst, rst, entry, instr, acct, reference, price, qty, debit, credit, amount):
    transfer(rst, acct, debit, credit, amount)
    emit(bst, EV_LEDGER, instr, reference, acct, entry, price, qty, debit, credit, amount,
         0, 0, 0, 0)


@kernel
def fill_position(bst, rst, slot, side, qty, price, rate, trade_id):
    """Apply one fill to a position: quantities, cost, realised P&L, margin, ledger."""
    pos, accts = positions(rst), accounts(rst)
    acct, instr, product = pos[slot, P_ACCT], pos[slot, P_INSTR], pos[slot, P_PRODUCT]
    if side == BUY:
        pos[slot, P_DAY_BUY_QTY] += qty
        pos[slot, P_DAY_BUY_VAL] += qty * price
    else:
        pos[slot, P_DAY_SELL_QTY] += qty
        pos[slot, P_DAY_SELL_VAL] += qty * price
    old_net, old_basis = pos[slot, P_NET], pos[slot, P_BASIS]
    net, basis, realised = rules.apply_fill(old_net, old_basis, side, qty, price)
    pos[slot, P_NET], pos[slot, P_BASIS] = net, basis
    pos[slot, P_REALISED] += realised
    if product == CNC:
        value = qty * price
        if side == BUY:
            post(bst, rst, LE_TRADE_VALUE, instr, acct, trade_id, price, qty, LA_CLIENT,
                 LA_CLEARING, value)
        else:
            post(bst, rst, LE_TRADE_VALUE, instr, acct, trade_id, price, qty, LA_CLEARING,
                 LA_CLIENT, value)
        return
    if realised > 0:
        post(bst, rst, LE_REALISED_PNL, instr, acct, trade_id, price, qty, LA_CLEARING,
             LA_CLIENT, realised)
    elif realised < 0:
        post(bst, rst, LE_REALISED_PNL, instr, acct, trade_id, price, qty, LA_CLIENT,
             LA_CLEARING, -realised)
    margin = rules.position_margin(product, basis, rate)
    accts[acct, A_MARGIN] += margin - pos[slot, P_MARGIN]
    pos[slot, P_MARGIN] = margin
    accts[acct, A_BASIS_M] += basis - old_basis
    mtm_matrix(rst)[acct, instr] += net - old_net
