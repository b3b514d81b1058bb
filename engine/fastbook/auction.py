"""Call-auction uncross and end-of-day expiry in the fast book.

Uncross (NSE pre-open rules, as in `engine.refbook`): over every price of the ladder, the
executable quantity is min(buy quantity at or above, sell quantity at or below), market
orders counting at every price. The auction price maximises it, then minimises the
imbalance, then is closest to the reference price (then the lower, a tie the rules above
make impossible on a tick grid that contains the reference). Allocation pairs the two sides
in priority order (limit orders by price then time, then market orders by time), every
trade at the auction price. Unfilled market orders become limits at that price (or at the
reference when nothing traded) and keep their time priority.
"""

from __future__ import annotations

import numpy as np

from engine.fastbook.arena import (
    I_BEST,
    I_LTP,
    I_MHEAD,
    I_NLEV,
    I_REF,
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_SHEAD,
    O_ACCT,
    O_DISCLOSED,
    O_FILLED,
    O_IDX,
    O_INSTR,
    O_LEAVES,
    O_NEXT,
    O_OID,
    O_PRICE,
    O_SIDE,
    O_STATE,
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
    index_of,
    level_insert_by_prio,
    level_row,
    market_unlink,
    note_slots,
    price_of,
    remove,
    touch,
)
from engine.fastbook.matching import finish
from engine.layout import (
    AUCTION_SIDE,
    BUY,
    EV_AUCTION,
    EV_EXPIRED,
    EV_RESTATED,
    LIMIT,
    R_AUCTION_MARKET_TO_LIMIT,
    R_END_OF_DAY,
    SELL,
    ST_BOOK,
    ST_MARKET_QUEUE,
)


@kernel
def _level_leaves(st, row):
    lev, ords = levels(st), orders(st)
    total = 0
    s = lev[row, L_HEAD]
    while s != -1:
        total += ords[s, O_LEAVES]
        s = ords[s, O_NEXT]
    return total


@kernel
def _queue_leaves(st, s):
    ords = orders(st)
    total = 0
    while s != -1:
        total += ords[s, O_LEAVES]
        s = ords[s, O_NEXT]
    return total


@kernel
def auction_price(st, instr):
    """(price, executable quantity, imbalance) of the uncross; quantity 0: no auction."""
    ins, lev = instruments(st), levels(st)
    n = ins[instr, I_NLEV]
    at_or_above = np.zeros(n + 1, dtype=np.int64)
    at_or_below = np.zeros(n + 1, dtype=np.int64)
    for idx in range(n):
        row = level_row(st, instr, BUY, idx)
        if lev[row, L_COUNT] > 0:
            at_or_above[idx] = _level_leaves(st, row)
        row = level_row(st, instr, SELL, idx)
        if lev[row, L_COUNT] > 0:
            at_or_below[idx] = _level_leaves(st, row)
    for idx in range(n - 1, -1, -1):
        at_or_above[idx] += at_or_above[idx + 1]
    for idx in range(1, n):
        at_or_below[idx] += at_or_below[idx - 1]
    market_buy = _queue_leaves(st, ins[instr, I_MHEAD + BUY])
    market_sell = _queue_leaves(st, ins[instr, I_MHEAD + SELL])
    ref = ins[instr, I_REF]
    best_qty = -1
    best_imbalance = 0
    best_distance = 0
    best_price = 0
    for idx in range(n):
        price = price_of(ins, instr, idx)
        buy_qty = at_or_above[idx] + market_buy
        sell_qty = at_or_below[idx] + market_sell
        qty = min(buy_qty, sell_qty)
        imbalance = buy_qty - sell_qty
        distance = abs(price - ref)
        better = qty > best_qty
        if qty == best_qty:
            if abs(imbalance) != abs(best_imbalance):
                better = abs(imbalance) < abs(best_imbalance)
            elif distance != best_distance:
                better = distance < best_distance
        if better:
            best_qty, best_imbalance, best_distance, best_price = qty, imbalance, distance, price
    if best_qty <= 0:
        return 0, 0, 0
    return best_price, best_qty, best_imbalance


@kernel
def _first_eligible(st, instr, side, idx, limit_idx):
    """First order in allocation order from level ``idx`` towards ``limit_idx``, then
    the market queue."""
    ins, lev = instruments(st), levels(st)
    if idx != -1:
        if side == BUY:
            while idx >= limit_idx:
                row = level_row(st, instr, side, idx)
                if lev[row, L_COUNT] > 0:
                    return lev[row, L_HEAD]
                idx -= 1
        else:
            while idx <= limit_idx:
                row = level_row(st, instr, side, idx)
                if lev[row, L_COUNT] > 0:
                    return lev[row, L_HEAD]
                idx += 1
    return ins[instr, I_MHEAD + side]


@kernel
def _next_eligible(st, s, limit_idx):
    ords = orders(st)
    nxt = ords[s, O_NEXT]
    if nxt != -1 or ords[s, O_STATE] == ST_MARKET_QUEUE:
        return nxt
    instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
    idx = ords[s, O_IDX]
    return _first_eligible(st, instr, side, idx - 1 if side == BUY else idx + 1, limit_idx)


@kernel
def _auction_fill(st, s, qty):
    """Fill from the whole remaining quantity; a used-up disclosed part refills in place."""
    lev, ords = levels(st), orders(st)
    old_visible = ords[s, O_VISIBLE]
    ords[s, O_LEAVES] -= qty
    ords[s, O_FILLED] += qty
    leaves = ords[s, O_LEAVES]
    if old_visible > qty:
        ords[s, O_VISIBLE] = old_visible - qty
    else:
        disclosed = ords[s, O_DISCLOSED]
        ords[s, O_VISIBLE] = min(disclosed if disclosed > 0 else leaves, leaves)
    if ords[s, O_STATE] == ST_BOOK:
        instr, side = ords[s, O_INSTR], ords[s, O_SIDE]
        row = level_row(st, instr, side, ords[s, O_IDX])
        touch(st, instr, row)
        lev[row, L_QTY] += ords[s, O_VISIBLE] - old_visible


@kernel
def uncross(st, instr):
    ins, ords = instruments(st), orders(st)
    price, volume, imbalance = auction_price(st, instr)
    if volume > 0:
        price_idx = index_of(ins, instr, price)
        buy = _first_eligible(st, instr, BUY, ins[instr, I_BEST + BUY], price_idx)
        sell = _first_eligible(st, instr, SELL, ins[instr, I_BEST + SELL], price_idx)
        while buy != -1 and sell != -1:
            qty = min(ords[buy, O_LEAVES], ords[sell, O_LEAVES])
            next_buy = _next_eligible(st, buy, price_idx)
            next_sell = _next_eligible(st, sell, price_idx)
            _auction_fill(st, buy, qty)
            _auction_fill(st, sell, qty)
            emit_trade(st, instr, AUCTION_SIDE, price, qty, buy, sell)
            if ords[buy, O_LEAVES] == 0:
                remove(st, buy)
                forget(st, buy)
                buy = next_buy
            if ords[sell, O_LEAVES] == 0:
                remove(st, sell)
                forget(st, sell)
                sell = next_sell
        ins[instr, I_LTP] = price
    else:
        imbalance = 0
    emit(st, EV_AUCTION, instr, 0, 0, 0, price, volume, imbalance, 0, 0, 0, 0, 0, 0)
    carry = price if volume > 0 else ins[instr, I_REF]
    for side in (BUY, SELL):
        s = ins[instr, I_MHEAD + side]
        while s != -1:
            nxt = ords[s, O_NEXT]
            market_unlink(st, s)
            ords[s, O_TYPE] = LIMIT
            ords[s, O_PRICE] = carry
            ords[s, O_STATE] = ST_BOOK
            ords[s, O_VISIBLE] = ords[s, O_LEAVES]
            level_insert_by_prio(st, s)
            emit(st, EV_RESTATED, instr, ords[s, O_OID], ords[s, O_ACCT], side, carry,
                 ords[s, O_LEAVES], R_AUCTION_MARKET_TO_LIMIT, 0, 0, 0, 0, 0, 0)
            note_slots(st, s, -1)
            s = nxt


@kernel
def expire_all(st, instr):
    """Expire every order of the instrument: book levels (buys then sells, low to high
    price, FIFO), then stop levels in the same order, then the market queues."""
    ins, lev, ords = instruments(st), levels(st), orders(st)
    n = ins[instr, I_NLEV]
    for head_col in (L_HEAD, L_SHEAD):
        for side in (BUY, SELL):
            for idx in range(n):
                s = lev[level_row(st, instr, side, idx), head_col]
                while s != -1:
                    nxt = ords[s, O_NEXT]
                    remove(st, s)
                    finish(st, s, EV_EXPIRED, R_END_OF_DAY)
                    s = nxt
    for side in (BUY, SELL):
        s = ins[instr, I_MHEAD + side]
        while s != -1:
            nxt = ords[s, O_NEXT]
            remove(st, s)
            finish(st, s, EV_EXPIRED, R_END_OF_DAY)
            s = nxt

