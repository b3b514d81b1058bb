"""The fast book's containers: slots, price levels, stop levels, market queues, accounts.

Every function takes ``st``, the arena's address, and takes the views it needs through the
inline accessors of `arena` (`header`, `orders`, `levels`, ...). All containers are intrusive
doubly-linked lists through the order slots (an order is in exactly one of: a price level,
a stop level, a market queue), so insert, remove and requeue are O(1). Level bookkeeping
keeps, at every moment:

* ``L_QTY`` = sum of the visible quantity of the orders in the level, ``L_COUNT`` = their
  number, and the block count = number of non-empty levels in each block of 64;
* ``I_BEST + side`` = index of the best non-empty level, or -1;
* ``I_STOP + BUY`` / ``+ SELL`` = lowest buy / highest sell stop level, or -1.

Events are appended to the event buffer at ``g[G_NEV]``. The kernel entry guarantees,
before each command, room for the most events that command could produce (see
`kernel.events_bound`), so writing never needs a bounds check. (A jitclass sink that grew
itself cost about 70 ns per call chain in the measurements; a plain array costs nothing.)
"""

from __future__ import annotations

from engine.fastbook import index
from engine.fastbook.arena import (
    BLOCK,
    EV_SLOT,
    EV_SLOT_SELL,
    G_EV_COLS,
    G_FREE,
    G_HMASK,
    G_LIVE,
    G_NEV,
    G_NEXT_PRIO,
    G_NEXT_TRADE,
    G_NTOUCH,
    G_SEQ,
    G_TL,
    G_TS,
    I_BASE,
    I_BEST,
    I_HI,
    I_LO,
    I_LTP,
    I_MHEAD,
    I_MTAIL,
    I_NLEV,
    I_PROT,
    I_REF,
    I_STOP,
    I_TICK,
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_SCOUNT,
    L_SHEAD,
    L_STAIL,
    L_TAIL,
    L_TOUCH,
    O_ACCT,
    O_ANEXT,
    O_APREV,
    O_DISCLOSED,
    O_IDX,
    O_INSTR,
    O_LEAVES,
    O_NEXT,
    O_OID,
    O_PREV,
    O_PRICE,
    O_PRIO,
    O_SIDE,
    O_STATE,
    O_TRIGGER,
    O_VISIBLE,
    accounts,
    block_counts,
    events,
    header,
    index_table,
    inline_kernel,
    instruments,
    kernel,
    levels,
    orders,
    touched_levels,
)
from engine.layout import (
    BUY,
    EV_BOOK_CHANGED,
    EV_TRADED,
    ST_BOOK,
    ST_FREE,
    ST_MARKET_QUEUE,
    ST_STOP,
)
from engine.pricing import protection_price


@kernel
def emit(st, kind, instr, oid, acct, side, price, qty, a, b, c, d, e, f, h):
    g, ev = header(st), events(st)
    n = g[G_NEV]
    row = ev[n]
    row[0] = kind
    row[1] = g[G_SEQ]
    row[2] = g[G_TS]
    row[3] = instr
    row[4] = oid
    row[5] = acct
    row[6] = side
    row[7] = price
    row[8] = qty
    row[9] = a
    row[10] = b
    row[11] = c
    row[12] = d
    row[13] = e
    row[14] = f
    row[15] = h
    g[G_NEV] = n + 1


@inline_kernel
def note_slots(st, slot, sell_slot):
    """Record the book's slot of the order the event just emitted concerns (of a trade: of
    the buy and the sell order), when the event buffer carries slots."""
    g = header(st)
    if g[G_EV_COLS] > EV_SLOT:
        row = events(st)[g[G_NEV] - 1]
        row[EV_SLOT] = slot
        row[EV_SLOT_SELL] = sell_slot


@kernel
def emit_trade(st, instr, aggressor, price, qty, buy, sell):
    g, ords = header(st), orders(st)
    trade_id = g[G_NEXT_TRADE]
    g[G_NEXT_TRADE] = trade_id + 1
    emit(st, EV_TRADED, instr, trade_id, 0, aggressor, price, qty,
         ords[buy, O_OID], ords[sell, O_OID], ords[buy, O_ACCT], ords[sell, O_ACCT],
         ords[buy, O_LEAVES], ords[sell, O_LEAVES], 0)
    note_slots(st, buy, sell)


# --- prices and levels ------------------------------------------------------------------------

@inline_kernel
def level_row(st, instr, side, idx):
    return side * header(st)[G_TL] + instruments(st)[instr, I_BASE] + idx


@inline_kernel
def price_of(ins, instr, idx):
    return ins[instr, I_LO] + idx * ins[instr, I_TICK]


@inline_kernel
def index_of(ins, instr, price):
    return (price - ins[instr, I_LO]) // ins[instr, I_TICK]


@inline_kernel
def last_price(ins, instr):
    ltp = ins[instr, I_LTP]
    return ltp if ltp > 0 else ins[instr, I_REF]


@kernel
def protection(ins, instr, side):
    return protection_price(side == BUY, last_price(ins, instr), ins[instr, I_PROT],
                            ins[instr, I_TICK], ins[instr, I_LO], ins[instr, I_HI])


@kernel
def touch(st, instr, row):
    g, lev, touched = header(st), levels(st), touched_levels(st)
    if lev[row, L_TOUCH] != g[G_SEQ]:
        lev[row, L_TOUCH] = g[G_SEQ]
        n = g[G_NTOUCH]
        touched[n, 0] = row
        touched[n, 1] = instr
        g[G_NTOUCH] = n + 1


@kernel
def emit_book_changes(st):
    g, ins, lev, touched = header(st), instruments(st), levels(st), touched_levels(st)
    tl = g[G_TL]
    for k in range(g[G_NTOUCH]):
        row = touched[k, 0]
        instr = touched[k, 1]
        side = 1 if row >= tl else 0  # sell levels follow all buy levels
        idx = row - side * tl - ins[instr, I_BASE]
        emit(st, EV_BOOK_CHANGED, instr, 0, 0, side, price_of(ins, instr, idx),
             lev[row, L_QTY], lev[row, L_COUNT], 0, 0, 0, 0, 0, 0)
        lev[row, L_TOUCH] = 0  # the core may run several rows under one sequence number
    g[G_NTOUCH] = 0


@kernel
def scan_best(st, instr, side, idx):
    """Best non-empty level at or beyond ``idx`` (downwards for bids), or -1."""
    g, ins, lev, blocks = header(st), instruments(st), levels(st), block_counts(st)
    tl = g[G_TL]
    base = ins[instr, I_BASE]
    n = ins[instr, I_NLEV]
    off = side * tl + base
    if side == BUY:
        while idx >= 0:
            if (idx & (BLOCK - 1)) == BLOCK - 1 and blocks[(off + idx) // BLOCK] == 0:
                idx -= BLOCK
                continue
            if lev[off + idx, L_COUNT] > 0:
                return idx
            idx -= 1
    else:
        while idx < n:
            if (idx & (BLOCK - 1)) == 0 and blocks[(off + idx) // BLOCK] == 0:
                idx += BLOCK
                continue
            if lev[off + idx, L_COUNT] > 0:
                return idx
            idx += 1
    return -1


@kernel
def _level_gained(st, instr, side, idx, row):
    ins, lev, blocks = instruments(st), levels(st), block_counts(st)
    if lev[row, L_COUNT] == 0:
        blocks[row // BLOCK] += 1
        best = ins[instr, I_BEST + side]
        if best == -1 or (idx > best if side == BUY else idx < best):
            ins[instr, I_BEST + side] = idx
    lev[row, L_COUNT] += 1


@kernel
def _level_lost(st, instr, side, idx, row):
    ins, lev, blocks = instruments(st), levels(st), block_counts(st)
    lev[row, L_COUNT] -= 1
    if lev[row, L_COUNT] == 0:
        blocks[row // BLOCK] -= 1
        if ins[instr, I_BEST + side] == idx:
            start = idx - 1 if side == BUY else idx + 1
            ins[instr, I_BEST + side] = scan_best(st, instr, side, start)


@kernel
def level_append(st, s):
    """Rest slot ``s`` at the back of the level of its price."""
    ins, lev, ords = instruments(st), levels(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    idx = index_of(ins, instr, ords[s, O_PRICE])
    ords[s, O_IDX] = idx
    row = level_row(st, instr, side, idx)
    touch(st, instr, row)
    tail = lev[row, L_TAIL]
    ords[s, O_PREV] = tail
    ords[s, O_NEXT] = -1
    if tail == -1:
        lev[row, L_HEAD] = s
    else:
        ords[tail, O_NEXT] = s
    lev[row, L_TAIL] = s
    lev[row, L_QTY] += ords[s, O_VISIBLE]
    _level_gained(st, instr, side, idx, row)


@kernel
def level_insert_by_prio(st, s):
    """Insert ``s`` in its level before the first order of later priority."""
    ins, lev, ords = instruments(st), levels(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    idx = index_of(ins, instr, ords[s, O_PRICE])
    ords[s, O_IDX] = idx
    row = level_row(st, instr, side, idx)
    after = lev[row, L_HEAD]
    while after != -1 and ords[after, O_PRIO] < ords[s, O_PRIO]:
        after = ords[after, O_NEXT]
    if after == -1:
        level_append(st, s)
        return
    touch(st, instr, row)
    before = ords[after, O_PREV]
    ords[s, O_NEXT] = after
    ords[s, O_PREV] = before
    ords[after, O_PREV] = s
    if before == -1:
        lev[row, L_HEAD] = s
    else:
        ords[before, O_NEXT] = s
    lev[row, L_QTY] += ords[s, O_VISIBLE]
    _level_gained(st, instr, side, idx, row)


@kernel
def level_unlink(st, s):
    lev, ords = levels(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    idx = ords[s, O_IDX]
    row = level_row(st, instr, side, idx)
    touch(st, instr, row)
    _unlink(lev, ords, row, L_HEAD, L_TAIL, s)
    lev[row, L_QTY] -= ords[s, O_VISIBLE]
    _level_lost(st, instr, side, idx, row)


@kernel
def level_requeue(st, row, s, visible):
    """Show ``visible`` more of ``s`` and send it to the back of its level (a refill)."""
    g, lev, ords = header(st), levels(st), orders(st)
    if lev[row, L_TAIL] != s:
        _unlink(lev, ords, row, L_HEAD, L_TAIL, s)
        tail = lev[row, L_TAIL]
        ords[s, O_PREV] = tail
        ords[s, O_NEXT] = -1
        ords[tail, O_NEXT] = s
        lev[row, L_TAIL] = s
    ords[s, O_VISIBLE] = visible
    lev[row, L_QTY] += visible
    ords[s, O_PRIO] = g[G_NEXT_PRIO]
    g[G_NEXT_PRIO] += 1


@inline_kernel
def _unlink(lev, ords, row, head_col, tail_col, s):
    prev, nxt = ords[s, O_PREV], ords[s, O_NEXT]
    if prev == -1:
        lev[row, head_col] = nxt
    else:
        ords[prev, O_NEXT] = nxt
    if nxt == -1:
        lev[row, tail_col] = prev
    else:
        ords[nxt, O_PREV] = prev


# --- stop levels ----------------------------------------------------------------------------

@kernel
def stop_append(st, s):
    ins, lev, ords = instruments(st), levels(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    idx = index_of(ins, instr, ords[s, O_TRIGGER])
    ords[s, O_IDX] = idx
    row = level_row(st, instr, side, idx)
    tail = lev[row, L_STAIL]
    ords[s, O_PREV] = tail
    ords[s, O_NEXT] = -1
    if tail == -1:
        lev[row, L_SHEAD] = s
    else:
        ords[tail, O_NEXT] = s
    lev[row, L_STAIL] = s
    lev[row, L_SCOUNT] += 1
    extreme = ins[instr, I_STOP + side]
    if extreme == -1 or (idx < extreme if side == BUY else idx > extreme):
        ins[instr, I_STOP + side] = idx


@kernel
def stop_unlink(st, s):
    ins, lev, ords = instruments(st), levels(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    idx = ords[s, O_IDX]
    row = level_row(st, instr, side, idx)
    _unlink(lev, ords, row, L_SHEAD, L_STAIL, s)
    lev[row, L_SCOUNT] -= 1
    if lev[row, L_SCOUNT] == 0 and ins[instr, I_STOP + side] == idx:
        ins[instr, I_STOP + side] = _scan_stop(st, instr, side, idx)


@kernel
def _scan_stop(st, instr, side, idx):
    """Next stop level after ``idx`` in firing order (upwards for buys), or -1."""
    ins, lev = instruments(st), levels(st)
    n = ins[instr, I_NLEV]
    step = 1 if side == BUY else -1
    idx += step
    while 0 <= idx < n:
        if lev[level_row(st, instr, side, idx), L_SCOUNT] > 0:
            return idx
        idx += step
    return -1


# --- market queues (call auction) ---------------------------------------------------------

@kernel
def market_append(st, s):
    ins, ords = instruments(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    tail = ins[instr, I_MTAIL + side]
    ords[s, O_PREV] = tail
    ords[s, O_NEXT] = -1
    if tail == -1:
        ins[instr, I_MHEAD + side] = s
    else:
        ords[tail, O_NEXT] = s
    ins[instr, I_MTAIL + side] = s


@kernel
def market_unlink(st, s):
    ins, ords = instruments(st), orders(st)
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    prev, nxt = ords[s, O_PREV], ords[s, O_NEXT]
    if prev == -1:
        ins[instr, I_MHEAD + side] = nxt
    else:
        ords[prev, O_NEXT] = nxt
    if nxt == -1:
        ins[instr, I_MTAIL + side] = prev
    else:
        ords[nxt, O_PREV] = prev


# --- placing and removing orders ---------------------------------------------------------------

@kernel
def take_prio(g):
    prio = g[G_NEXT_PRIO]
    g[G_NEXT_PRIO] = prio + 1
    return prio


@kernel
def rest(st, s):
    ords = orders(st)
    ords[s, O_STATE] = ST_BOOK
    disclosed, leaves = ords[s, O_DISCLOSED], ords[s, O_LEAVES]
    ords[s, O_VISIBLE] = min(disclosed, leaves) if disclosed > 0 else leaves
    ords[s, O_PRIO] = take_prio(header(st))
    level_append(st, s)


@kernel
def rest_stop(st, s):
    ords = orders(st)
    ords[s, O_STATE] = ST_STOP
    ords[s, O_PRIO] = take_prio(header(st))
    stop_append(st, s)


@kernel
def enqueue_market(st, s):
    ords = orders(st)
    ords[s, O_STATE] = ST_MARKET_QUEUE
    ords[s, O_PRIO] = take_prio(header(st))
    market_append(st, s)


@kernel
def remove(st, s):
    """Take a live order out of whichever container holds it (it stays known)."""
    state = orders(st)[s, O_STATE]
    if state == ST_BOOK:
        level_unlink(st, s)
    elif state == ST_STOP:
        stop_unlink(st, s)
    elif state == ST_MARKET_QUEUE:
        market_unlink(st, s)


# --- slots, the id index and account lists -----------------------------------------------------

@kernel
def alloc(st, oid, acct):
    """A free slot registered under ``oid`` and appended to ``acct``'s orders."""
    g, ords, htab, accts = header(st), orders(st), index_table(st), accounts(st)
    s = g[G_FREE]
    g[G_FREE] = ords[s, O_NEXT]
    g[G_LIVE] += 1
    ords[s, O_OID] = oid
    ords[s, O_ACCT] = acct
    index.put(htab, g[G_HMASK], oid, s)
    tail = accts[acct, 1]
    ords[s, O_APREV] = tail
    ords[s, O_ANEXT] = -1
    if tail == -1:
        accts[acct, 0] = s
    else:
        ords[tail, O_ANEXT] = s
    accts[acct, 1] = s
    return s


@kernel
def forget(st, s):
    """Release the slot of an order that is done (already out of its container)."""
    g, ords, htab, accts = header(st), orders(st), index_table(st), accounts(st)
    index.remove(htab, g[G_HMASK], ords[s, O_OID])
    acct = ords[s, O_ACCT]
    prev, nxt = ords[s, O_APREV], ords[s, O_ANEXT]
    if prev == -1:
        accts[acct, 0] = nxt
    else:
        ords[prev, O_ANEXT] = nxt
    if nxt == -1:
        accts[acct, 1] = prev
    else:
        ords[nxt, O_APREV] = prev
    ords[s, O_STATE] = ST_FREE
    ords[s, O_NEXT] = g[G_FREE]
    g[G_FREE] = s
    g[G_LIVE] -= 1


@kernel
def lookup(st, oid):
    g, htab = header(st), index_table(st)
    return index.get(htab, g[G_HMASK], oid)
