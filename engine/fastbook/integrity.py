"""A slow, thorough audit of the fast book's internal structures.

The property tests run it after every step; ``gridworks replay --check`` runs it after a
recovery. It walks every list and recomputes every derived number, and reports each
disagreement: level quantities and counts, block counts, best levels, stop extremes, FIFO
priority order, account lists in acceptance order, the id index, and the free list.
"""

from __future__ import annotations

import numpy as np

from engine.fastbook.arena import (
    BLOCK,
    G_CAP,
    G_FREE,
    G_HMASK,
    G_LIVE,
    G_MAXACCT,
    G_NINSTR,
    G_TL,
    I_BASE,
    I_BEST,
    I_MHEAD,
    I_MTAIL,
    I_NLEV,
    I_STOP,
    L_COUNT,
    L_HEAD,
    L_QTY,
    L_SCOUNT,
    L_SHEAD,
    L_STAIL,
    L_TAIL,
    O_ACCT,
    O_ANEXT,
    O_INSTR,
    O_LEAVES,
    O_NEXT,
    O_OID,
    O_PREV,
    O_PRIO,
    O_SIDE,
    O_STATE,
    O_VISIBLE,
    views,
)
from engine.fastbook.index import get
from engine.layout import BUY, SELL, ST_BOOK, ST_FREE, ST_MARKET_QUEUE, ST_STOP


def _walk(ords: np.ndarray, head: int, tail: int, problems: list[str], where: str) -> list[int]:
    out: list[int] = []
    prev = -1
    s = head
    while s != -1:
        if len(out) > ords.shape[0]:
            problems.append(f"{where}: list does not terminate")
            break
        if ords[s, O_PREV] != prev:
            problems.append(f"{where}: slot {s} has prev {ords[s, O_PREV]}, expected {prev}")
        out.append(s)
        prev = s
        s = int(ords[s, O_NEXT])
    if prev != tail:
        problems.append(f"{where}: tail is {tail}, list ends at {prev}")
    prios = [int(ords[x, O_PRIO]) for x in out]
    if prios != sorted(prios) or len(set(prios)) != len(prios):
        problems.append(f"{where}: priorities not strictly increasing: {prios}")
    return out


def audit(arena: np.ndarray) -> list[str]:
    """Every inconsistency found (empty when the book is sound)."""
    g, ins, lev, ords, htab, accts, _, blocks = views(arena)
    problems: list[str] = []
    tl = int(g[G_TL])
    seen: dict[int, str] = {}
    expected_blocks = np.zeros_like(blocks)
    for instr in range(int(g[G_NINSTR])):
        base, n = int(ins[instr, I_BASE]), int(ins[instr, I_NLEV])
        for side in (BUY, SELL):
            nonempty: list[int] = []
            stops: list[int] = []
            for idx in range(n):
                row = side * tl + base + idx
                where = f"instr {instr} side {side} level {idx}"
                members = _walk(ords, int(lev[row, L_HEAD]), int(lev[row, L_TAIL]),
                                problems, where)
                for s in members:
                    seen[s] = where
                    if ords[s, O_STATE] != ST_BOOK or ords[s, O_INSTR] != instr:
                        problems.append(f"{where}: slot {s} state/instrument mismatch")
                    if ords[s, O_SIDE] != side or not 0 < ords[s, O_VISIBLE] <= ords[s, O_LEAVES]:
                        problems.append(f"{where}: slot {s} side or visible quantity wrong")
                if int(lev[row, L_QTY]) != sum(int(ords[s, O_VISIBLE]) for s in members):
                    problems.append(f"{where}: level quantity {lev[row, L_QTY]} is wrong")
                if int(lev[row, L_COUNT]) != len(members):
                    problems.append(f"{where}: level count {lev[row, L_COUNT]} is wrong")
                if members:
                    nonempty.append(idx)
                    expected_blocks[row // BLOCK] += 1
                stop_members = _walk(ords, int(lev[row, L_SHEAD]), int(lev[row, L_STAIL]),
                                     problems, where + " (stops)")
                for s in stop_members:
                    seen[s] = where + " (stops)"
                    if ords[s, O_STATE] != ST_STOP:
                        problems.append(f"{where}: stop slot {s} has state {ords[s, O_STATE]}")
                if int(lev[row, L_SCOUNT]) != len(stop_members):
                    problems.append(f"{where}: stop count is wrong")
                if stop_members:
                    stops.append(idx)
            best = (max(nonempty) if side == BUY else min(nonempty)) if nonempty else -1
            if ins[instr, I_BEST + side] != best:
                problems.append(f"instr {instr} side {side}: best {ins[instr, I_BEST + side]}, "
                                f"expected {best}")
            extreme = (min(stops) if side == BUY else max(stops)) if stops else -1
            if ins[instr, I_STOP + side] != extreme:
                problems.append(f"instr {instr} side {side}: stop extreme is wrong")
            queue = _walk(ords, int(ins[instr, I_MHEAD + side]), int(ins[instr, I_MTAIL + side]),
                          problems, f"instr {instr} side {side} market queue")
            for s in queue:
                seen[s] = "market queue"
                if ords[s, O_STATE] != ST_MARKET_QUEUE:
                    problems.append(f"market queue slot {s} has state {ords[s, O_STATE]}")
    if not np.array_equal(blocks, expected_blocks):
        problems.append("block occupancy counts are wrong")
    live = [s for s in range(int(g[G_CAP])) if ords[s, O_STATE] != ST_FREE]
    if len(live) != int(g[G_LIVE]) or set(live) != set(seen):
        problems.append(f"{len(live)} live slots, {g[G_LIVE]} counted, {len(seen)} in containers")
    mask = int(g[G_HMASK])
    for s in live:
        if get(htab, mask, int(ords[s, O_OID])) != s:
            problems.append(f"index does not map order {ords[s, O_OID]} to slot {s}")
    if int(np.count_nonzero(htab[:, 0])) != len(live):
        problems.append("index holds entries for orders that are gone")
    in_accounts = 0
    for acct in range(int(g[G_MAXACCT])):
        s, oids = int(accts[acct, 0]), []
        while s != -1 and len(oids) <= len(live):
            if ords[s, O_ACCT] != acct:
                problems.append(f"account {acct} lists slot {s} of another account")
            oids.append(int(ords[s, O_OID]))
            s = int(ords[s, O_ANEXT])
        if oids != sorted(oids):
            problems.append(f"account {acct} orders are not in acceptance order")
        in_accounts += len(oids)
    if in_accounts != len(live):
        problems.append(f"account lists hold {in_accounts} orders, {len(live)} are live")
    free, s = 0, int(g[G_FREE])
    while s != -1 and free <= g[G_CAP]:
        free += 1
        s = int(ords[s, O_NEXT])
    if free + len(live) != int(g[G_CAP]):
        problems.append(f"free list has {free} slots, expected {g[G_CAP] - len(live)}")
    return problems
