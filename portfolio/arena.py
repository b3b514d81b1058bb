"""The account side's memory: one int64 arena, like the book's (`engine.fastbook.arena`).

Tables (columns named below):

* header     counters, capacities, table offsets, the global kill switch, the balances of
             the system ledger accounts, and a scratch area where a pre-trade check leaves
             what the order will block for the event that accepts it.
* accounts   (max_accounts, AW): cash, blocked, margin, limits, rate-limiter bucket, kill
             switch, margin-call state and marks, the day's brokerage. Dense: every account
             id below the capacity has a row.
* instruments (max_instruments, RW): kill switch, last mark, segment, allowed products and
             margin rates.
* positions  (max_positions, PW) keyed by (account, instrument, product) through an
             open-addressing index; free rows form a list.
* orders     (max_orders, QW): what each open order blocks, in the row of the book's slot
             of the order (the book's events carry the slot), so that the account side
             needs no order index of its own; the book's capacity is this table's.

The mark-to-market matrix (net quantity of intraday/carry-forward positions per account
and instrument, int32) is a separate array whose address the header keeps, so that marking
all accounts is one dense, vectorised pass.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

from engine.fastbook.arena import address, round_up_block

kernel = njit(cache=True, error_model="numpy")
inline_kernel = njit(cache=True, error_model="numpy", inline="always")

HEADER = 64
H_MAXACCT = 0
H_MAXINSTR = 1
H_NINSTR = 2
H_POS_CAP = 3
H_POS_LIVE = 4
H_POS_MASK = 5
H_POS_FREE = 6
H_ORD_CAP = 7
# 8, 9: unused (the order free list and index, before orders took the book's slots)
H_KILL = 10
H_MAINT = 11
H_DEFAULT_RATE = 12
H_SYNTH = 13
H_OFF_ACCT = 14
H_OFF_INSTR = 15
H_OFF_POS = 16
H_OFF_PIDX = 17
H_OFF_ORD = 18
# 19: unused
H_MTM_ADDR = 20
H_MTM_COLS = 21
H_PENDING = 22  # 1 when the scratch below holds a passed check
H_P_NEED = 23
H_P_REDUCE = 24
H_P_BP = 25
H_P_RATE = 26
H_ORD_LIVE = 27
H_P_SLOT = 28  # the position row the check found (-1: none yet)
H_CLOSED_DAY = 29  # YYYYMMDD of the last end of day
H_INTRADAY_CLOSED = 30  # Indian day (since the epoch) through which MIS may only reduce
# Accounts 0 .. n-1 include every account whose row ever left its defaults (cash, credit
# or limits, a position, an order, a kill switch): the others are untouched, so the mark and
# the canonical state pass over these only, not the arena's whole capacity.
H_ACTIVE = 31
H_SCRATCH_ROW = 40  # 20 slots: a copy of the command row handed to the book
H_LEDGER = 32  # 8 slots: clearing, bank, brokerage, stt, exchange, sebi, stamp, gst
# (H_LEDGER + 8 == H_SCRATCH_ROW; the scratch row ends at 60 < HEADER)

AW = 20
A_CASH = 0
A_BLOCKED = 1
A_MARGIN = 2
A_CREDIT = 3
A_MAX_VALUE = 4
A_MAX_OPEN = 5
A_OPEN = 6
A_MAX_LONG = 7
A_MAX_SHORT = 8
A_RATE = 9
A_TOKENS = 10
A_TOKEN_TS = 11
A_KILLED = 12
A_IN_CALL = 13
A_BASIS_M = 14
A_UNREAL = 15
A_EQUITY = 16
A_DAY_BROKERAGE = 17
N_ACCOUNT = 18  # canonical columns (the account id is the row)

RW = 8
R_KILLED = 0
R_MARK = 1
R_SEGMENT = 2
R_RATE = 3  # + product (1..3)
R_PRODUCTS = 7  # bit (1 << product) set when the product is allowed

PW = 16
P_KEY = 0  # 0: free row
P_ACCT = 1
P_INSTR = 2
P_PRODUCT = 3
P_NET = 4
P_BASIS = 5
P_REALISED = 6
P_MARGIN = 7
P_OPEN_BUY = 8
P_OPEN_SELL = 9
P_DAY_BUY_QTY = 10
P_DAY_BUY_VAL = 11
P_DAY_SELL_QTY = 12
P_DAY_SELL_VAL = 13
P_OVERNIGHT = 14
P_NEXT = 15

QW = 16
Q_OID = 0
Q_ACCT = 1
Q_INSTR = 2
Q_PRODUCT = 3
Q_SIDE = 4
Q_QTY = 5
Q_LEAVES = 6
Q_REDUCE = 7
Q_BP = 8
Q_RATE = 9
Q_BLOCKED = 10
Q_TURNOVER = 11
Q_POS = 12
N_ORDER = 12  # canonical columns


def _pow2_at_least(n: int) -> int:
    size = 1
    while size < n:
        size <<= 1
    return size


def new_arena(max_accounts: int, max_instruments: int, max_positions: int, max_orders: int,
              maintenance_bps: int, default_rate: int) -> np.ndarray:
    pos_index = _pow2_at_least(4 * max_positions)
    sizes = [
        ("acct", max_accounts * AW),
        ("instr", max_instruments * RW),
        ("pos", max_positions * PW),
        ("pidx", pos_index * 2),
        ("ord", max_orders * QW),
    ]
    offsets, cursor = {}, HEADER
    for name, size in sizes:
        offsets[name] = cursor
        cursor += round_up_block(size)
    arena = np.zeros(cursor, dtype=np.int64)
    h = arena[:HEADER]
    h[H_MAXACCT], h[H_MAXINSTR] = max_accounts, max_instruments
    h[H_POS_CAP], h[H_POS_MASK] = max_positions, pos_index - 1
    h[H_ORD_CAP] = max_orders
    h[H_MAINT], h[H_DEFAULT_RATE] = maintenance_bps, default_rate
    h[H_OFF_ACCT], h[H_OFF_INSTR] = offsets["acct"], offsets["instr"]
    h[H_OFF_POS], h[H_OFF_PIDX] = offsets["pos"], offsets["pidx"]
    h[H_OFF_ORD] = offsets["ord"]
    st = int(arena.ctypes.data)
    accts = accounts(st)
    accts[:, A_RATE] = default_rate
    accts[:, A_TOKENS] = default_rate * 1000
    pos = positions(st)
    pos[:, P_NEXT] = np.arange(1, max_positions + 1)
    pos[-1, P_NEXT] = -1
    return arena


def default_account_row(default_rate: int) -> np.ndarray:
    row = np.zeros(N_ACCOUNT, dtype=np.int64)
    row[A_RATE], row[A_TOKENS] = default_rate, default_rate * 1000
    return row


@intrinsic
def _pointer(typingctx, address, dtype):
    target = getattr(dtype, "instance_type", None) or dtype.dtype
    sig = types.CPointer(target)(types.intp, dtype)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(target)))

    return sig, codegen


@inline_kernel
def _table(st: int, offset: int, rows: int, cols: int) -> np.ndarray:
    return carray(_pointer(st + 8 * offset, np.int64), (rows, cols))


@inline_kernel
def header(st: int) -> np.ndarray:
    return carray(_pointer(st, np.int64), (HEADER,))


@inline_kernel
def accounts(st: int) -> np.ndarray:
    h = header(st)
    return _table(st, h[H_OFF_ACCT], h[H_MAXACCT], AW)


@inline_kernel
def instrument_risk(st: int) -> np.ndarray:
    h = header(st)
    return _table(st, h[H_OFF_INSTR], h[H_MAXINSTR], RW)


@inline_kernel
def positions(st: int) -> np.ndarray:
    h = header(st)
    return _table(st, h[H_OFF_POS], h[H_POS_CAP], PW)


@inline_kernel
def position_index(st: int) -> np.ndarray:
    h = header(st)
    return _table(st, h[H_OFF_PIDX], h[H_POS_MASK] + 1, 2)


@inline_kernel
def orders(st: int) -> np.ndarray:
    h = header(st)
    return _table(st, h[H_OFF_ORD], h[H_ORD_CAP], QW)


@inline_kernel
def mtm_matrix(st: int) -> np.ndarray:
    h = header(st)
    return carray(_pointer(h[H_MTM_ADDR], np.int32), (h[H_MAXACCT], h[H_MTM_COLS]))


@inline_kernel
def scratch_row(st: int) -> np.ndarray:
    return carray(_pointer(st + 8 * H_SCRATCH_ROW, np.int64), (20,))


@kernel
def views(arena: np.ndarray):  # -> (header, accounts, instruments, positions, orders)
    st = address(arena)
    return header(st), accounts(st), instrument_risk(st), positions(st), orders(st)
