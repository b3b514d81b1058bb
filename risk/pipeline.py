"""The core's kernel loop with risk: for every command row, check, match, account.

``run(book_arena, risk_arena, commands, events) -> done`` is the book's `run` with the
account side around it: account commands go to the account side alone; a new order or an
amendment is first checked (a rejection is handed to the book as the row's pre-check code,
so the book reports it in sequence); every row the book processes has its events applied
to accounts, positions and ledger right after. Like the book's loop it stops before a
command that might not fit in the event buffer and reports how far it got. The buffer must
be slotted (`engine.fastbook.arena.SLOTTED_WIDTH`): the account side finds its row of an
order at the book's slot that the event names.
"""

from __future__ import annotations

import numpy as np

from engine.codes import RejectCode
from engine.fastbook.arena import (
    G_CAP,
    G_EV_ROWS,
    G_LIVE,
    G_NEED,
    G_NEV,
    G_SEQ,
    G_TS,
    SLOTTED_WIDTH,
    address,
    collect_into,
    header,
    unowned,
)
from engine.fastbook.kernel import dispatch, events_bound
from engine.layout import (
    C_KIND,
    C_PRECHECK,
    C_SEQ,
    C_TS,
    CMD_WIDTH,
    K_AMEND,
    K_DEPOSIT,
    K_MARK,
    K_NEW_ORDER,
    K_SET_LIMITS,
    K_WITHDRAW,
)
from portfolio.arena import H_MAXACCT, H_ORD_CAP, kernel, scratch_row
from portfolio.arena import header as risk_header
from risk.apply import account_command, apply_events
from risk.checks import check_amend, check_new

OK = int(RejectCode.OK)
LEDGER_PER_EVENT = 3  # a trade adds at most two ledger entries to its own event


@kernel
def is_account_command(kind):
    return kind in (K_DEPOSIT, K_WITHDRAW, K_SET_LIMITS, K_MARK)


@kernel
def run(book_arena: np.ndarray, risk_arena: np.ndarray, cmds: np.ndarray,
        out: np.ndarray) -> int:
    require_slotted(out)
    bst, rst = address(book_arena), address(risk_arena)
    g = header(bst)
    if g[G_CAP] > risk_header(rst)[H_ORD_CAP]:  # its order rows are the book's slots
        raise ValueError("the account side holds fewer orders than the book")
    collect_into(g, out)
    rows = unowned(cmds)
    for i in range(rows.shape[0]):
        r = rows[i]
        need = events_needed(rst, r[C_KIND], g[G_LIVE])
        if g[G_EV_ROWS] - g[G_NEV] < need:
            g[G_NEED] = need
            return i
        step(bst, rst, r)
    return rows.shape[0]


@kernel
def require_slotted(out):
    """The account side finds its order rows by the slots the events carry."""
    if out.shape[1] < SLOTTED_WIDTH:
        raise ValueError("the risk pipeline needs a slotted event buffer")


@kernel
def events_needed(rst, kind, live):
    """The most event rows one command can produce (a mark can call every account)."""
    if kind == K_MARK:
        return risk_header(rst)[H_MAXACCT] + 64
    return LEDGER_PER_EVENT * events_bound(live)


@kernel
def step(bst, rst, r):
    """One command through the account side and the book."""
    g = header(bst)
    kind = r[C_KIND]
    if is_account_command(kind):
        g[G_SEQ], g[G_TS] = r[C_SEQ], r[C_TS]
        account_command(bst, rst, r)
        return
    row = checked(bst, rst, r)
    start = g[G_NEV]
    dispatch(bst, row)
    apply_events(bst, rst, row, start, g[G_NEV])


@kernel
def checked(bst, rst, r):
    """The row to hand the book: ``r`` itself, or a copy carrying the checks' verdict (the
    caller's row is never written)."""
    code = OK
    kind = r[C_KIND]
    if kind == K_NEW_ORDER:
        code = check_new(bst, rst, r)
    elif kind == K_AMEND:
        code = check_amend(bst, rst, r)
    if code == OK:
        return r
    row = scratch_row(rst)
    for f in range(CMD_WIDTH):
        row[f] = r[f]
    row[C_PRECHECK] = code
    return row
