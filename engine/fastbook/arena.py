"""The fast book's memory: one preallocated int64 arena holding every table.

A numba call costs about 70 ns per array argument it unboxes, so the whole book lives in a
single array and the kernel slices typed views out of it (`views`). Tables, all int64:

* header    ``HEADER`` globals (`G_*`): counters, capacities and the offsets of the tables.
* instruments (max_instruments, IW): tick, band, ladder base, phase, last price, best
  bid/ask level, extreme stop levels, market-order queues (`I_*`).
* levels    (2 * total_levels, LW): per side a dense price ladder per instrument; each level
  is a FIFO of order slots (head/tail), its visible quantity and order count, and the FIFO
  of stops triggering at that price (`L_*`). Ladders start on a BLOCK boundary.
* blocks    (2 * total_levels / BLOCK): number of non-empty levels per block of 64, so a
  best-price rescan skips empty stretches of a wide band 64 levels at a time.
* orders    (max_orders, OW): order slots; columns 0..17 are exactly the canonical
  `ORDER_FIELDS`, then FIFO links and per-account links (`O_*`). Free slots form a list.
* index     (hash_capacity, 2): open-addressing map order id -> slot.
* accounts  (max_accounts, 2): head and tail of each account's orders, in acceptance order.
* touched   (2 * total_levels, 2): levels touched by the current command, for BOOK_CHANGED.

Capacities are explicit; reaching one is a clean rejection (CAPACITY_ORDERS), never a crash.
"""

from __future__ import annotations

import numpy as np
from numba import carray, njit, types
from numba.extending import intrinsic

from engine.layout import EVENT_WIDTH
from engine.snapshot_types import ORDER_FIELDS

# Every kernel function is compiled the same way: cached on disk, and with numpy's error
# model, which drops Python's division-by-zero checks (every divisor here is a tick size
# or a capacity, never zero).
kernel = njit(cache=True, error_model="numpy")
inline_kernel = njit(cache=True, error_model="numpy", inline="always")

HEADER = 64
BLOCK = 64

# header globals
G_FREE = 0
G_LIVE = 1
G_NEXT_TRADE = 2
G_NEXT_PRIO = 3
G_NINSTR = 4
G_CAP = 5
G_MAXACCT = 6
G_HMASK = 7
G_TL = 8
G_STP = 9
G_OFF_INSTR = 10
G_OFF_LEV = 11
G_OFF_ORD = 12
G_OFF_HASH = 13
G_OFF_ACCT = 14
G_OFF_TOUCH = 15
G_OFF_BLK = 16
G_MAXINSTR = 17
G_NTOUCH = 18
G_SEQ = 19
G_TS = 20
G_LEVELS_USED = 21
G_NEV = 22  # events written into the current event buffer
G_NEED = 23  # event rows the next command may need (set when a call stops early)
G_EV_ADDR = 24  # address of the event buffer of the current kernel call
G_EV_ROWS = 25  # its capacity in rows
G_EV_COLS = 26  # its width: EVENT_WIDTH, or SLOTTED_WIDTH to carry order slots

# An event buffer SLOTTED_WIDTH wide carries, past the event's own columns, the book's slot
# of each order the event concerns, for the account side, which keeps its order rows at the
# book's slots instead of in an index of its own (risk.pipeline). Every event that starts,
# changes or ends a live order carries it; the event as published stops at EVENT_WIDTH.
EV_SLOT = EVENT_WIDTH  # the order's slot; TRADED: the buy order's
EV_SLOT_SELL = EVENT_WIDTH + 1  # TRADED: the sell order's slot
SLOTTED_WIDTH = EVENT_WIDTH + 2

# instrument columns
IW = 32
I_TICK = 0
I_LOT = 1
I_FREEZE = 2
I_LO = 3
I_HI = 4
I_REF = 5
I_BASE = 6
I_NLEV = 7
I_PHASE = 8
I_LTP = 9
I_BEST = 10  # + side: best level index, -1 when the side is empty
I_PROT = 12
I_FLAGS = 13
I_STOP = 14  # + side: lowest buy-stop level / highest sell-stop level, -1 when none
I_MHEAD = 16  # + side: market orders collected in the call auction
I_MTAIL = 18  # + side
I_HALT = 20  # a trade printed at the band edge; halt once the order is done
I_CAPLEV = 21  # ladder levels allocated (>= I_NLEV)

# level columns
LW = 8
L_HEAD = 0
L_TAIL = 1
L_QTY = 2
L_COUNT = 3
L_SHEAD = 4
L_STAIL = 5
L_SCOUNT = 6
L_TOUCH = 7  # seq of the command that last touched the level

# order columns: the canonical fields first, in ORDER_FIELDS order
OW = 24
O_OID = 0
O_ACCT = 1
O_INSTR = 2
O_SIDE = 3
O_TYPE = 4
O_TIF = 5
O_FLAGS = 6
O_STP = 7
O_PRICE = 8
O_TRIGGER = 9
O_QTY = 10
O_LEAVES = 11
O_VISIBLE = 12
O_DISCLOSED = 13
O_FILLED = 14
O_STATE = 15
O_PRIO = 16
O_TS = 17
O_NEXT = 18
O_PREV = 19
O_ANEXT = 20
O_APREV = 21
O_IDX = 22  # ladder index of the price (resting) or of the trigger (stop)
N_CANONICAL = len(ORDER_FIELDS)

assert ORDER_FIELDS.index("ts") == O_TS
assert ORDER_FIELDS.index("prio") == O_PRIO


def _pow2_at_least(n: int) -> int:
    size = 1
    while size < n:
        size <<= 1
    return size


def round_up_block(n: int) -> int:
    return -(-n // BLOCK) * BLOCK


def new_arena(
    max_orders: int,
    max_accounts: int,
    max_instruments: int,
    total_levels: int,
    stp_default: int,
) -> np.ndarray:
    """A fresh, empty arena with every table initialised."""
    total_levels = round_up_block(max(total_levels, BLOCK))
    hash_cap = _pow2_at_least(4 * max_orders)
    sizes = [
        ("instr", max_instruments * IW),
        ("lev", 2 * total_levels * LW),
        ("ord", max_orders * OW),
        ("hash", hash_cap * 2),
        ("acct", max_accounts * 2),
        ("touch", 2 * total_levels * 2),
        ("blk", 2 * total_levels // BLOCK),
    ]
    offsets: dict[str, int] = {}
    cursor = HEADER
    for name, size in sizes:
        offsets[name] = cursor
        cursor += size
    arena = np.zeros(cursor, dtype=np.int64)
    g = arena[:HEADER]
    g[G_FREE] = 0
    g[G_NEXT_TRADE] = 1
    g[G_NEXT_PRIO] = 1
    g[G_CAP] = max_orders
    g[G_MAXACCT] = max_accounts
    g[G_HMASK] = hash_cap - 1
    g[G_TL] = total_levels
    g[G_STP] = stp_default
    g[G_MAXINSTR] = max_instruments
    g[G_EV_COLS] = EVENT_WIDTH
    g[G_OFF_INSTR] = offsets["instr"]
    g[G_OFF_LEV] = offsets["lev"]
    g[G_OFF_ORD] = offsets["ord"]
    g[G_OFF_HASH] = offsets["hash"]
    g[G_OFF_ACCT] = offsets["acct"]
    g[G_OFF_TOUCH] = offsets["touch"]
    g[G_OFF_BLK] = offsets["blk"]
    _, _, lev, ords, _, accts, _, _ = views(arena)
    lev[:, L_HEAD] = -1
    lev[:, L_TAIL] = -1
    lev[:, L_SHEAD] = -1
    lev[:, L_STAIL] = -1
    ords[:, O_NEXT] = np.arange(1, max_orders + 1)
    ords[-1, O_NEXT] = -1
    accts[:] = -1
    return arena


@intrinsic
def _int64_pointer(typingctx, address):
    sig = types.CPointer(types.int64)(types.intp)

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.int64)))

    return sig, codegen


@inline_kernel
def _table(base: int, offset: int, rows: int, cols: int) -> np.ndarray:
    return carray(_int64_pointer(base + 8 * offset), (rows, cols))


@inline_kernel
def address(array: np.ndarray) -> int:
    """An array's data address as a signed integer (numba's is unsigned, and unsigned plus
    signed arithmetic would go through floating point)."""
    return np.int64(array.ctypes.data)


@inline_kernel
def collect_into(g: np.ndarray, out: np.ndarray) -> None:
    """Point the book's event buffer (header ``g``) at ``out``: EVENT_WIDTH wide, or
    SLOTTED_WIDTH to carry order slots."""
    g[G_EV_ADDR] = address(out)
    g[G_EV_ROWS] = out.shape[0]
    g[G_EV_COLS] = out.shape[1]


@inline_kernel
def unowned(array: np.ndarray) -> np.ndarray:
    """A view of a 2-D int64 array without a reference count (see `views`)."""
    return carray(_int64_pointer(address(array)), array.shape)


# The kernels pass the arena as one integer, its address, and rebuild each table's view
# where they use it. Passing the tables themselves (a tuple of arrays) cost about 30 ns per
# non-inlined call in argument copying and reference counting; an address costs nothing,
# and these accessors inline to a few loads.

@inline_kernel
def header(st: int) -> np.ndarray:
    return carray(_int64_pointer(st), (HEADER,))


@inline_kernel
def instruments(st: int) -> np.ndarray:
    g = header(st)
    return _table(st, g[G_OFF_INSTR], g[G_MAXINSTR], IW)


@inline_kernel
def levels(st: int) -> np.ndarray:
    g = header(st)
    return _table(st, g[G_OFF_LEV], 2 * g[G_TL], LW)


@inline_kernel
def orders(st: int) -> np.ndarray:
    g = header(st)
    return _table(st, g[G_OFF_ORD], g[G_CAP], OW)


@inline_kernel
def index_table(st: int) -> np.ndarray:
    g = header(st)
    return _table(st, g[G_OFF_HASH], g[G_HMASK] + 1, 2)


@inline_kernel
def accounts(st: int) -> np.ndarray:
    g = header(st)
    return _table(st, g[G_OFF_ACCT], g[G_MAXACCT], 2)


@inline_kernel
def touched_levels(st: int) -> np.ndarray:
    g = header(st)
    return _table(st, g[G_OFF_TOUCH], 2 * g[G_TL], 2)


@inline_kernel
def block_counts(st: int) -> np.ndarray:
    g = header(st)
    return carray(_int64_pointer(st + 8 * g[G_OFF_BLK]), (2 * g[G_TL] // BLOCK,))


@inline_kernel
def events(st: int) -> np.ndarray:
    g = header(st)
    return carray(_int64_pointer(g[G_EV_ADDR]), (g[G_EV_ROWS], g[G_EV_COLS]))


@kernel
def views(arena: np.ndarray):  # -> (g, ins, lev, ords, htab, accts, touched, blocks)
    """Typed views of every table: (g, ins, lev, ords, htab, accts, touched, blocks).

    The views are built from the arena's address and carry no reference count; the
    caller must keep ``arena`` alive while it uses them.
    """
    st = address(arena)
    return (header(st), instruments(st), levels(st), orders(st), index_table(st),
            accounts(st), touched_levels(st), block_counts(st))
