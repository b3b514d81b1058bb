"""The standard benchmark stream: one instrument, seeded, about a million operations.

As in the project's reference measurements: a latent fair price walks one tick every 8
operations; 60% of operations are new DAY limit orders placed a geometric number of ticks
(p = 0.15, at most 50) behind fair value without crossing, 5% of them deliberately
marketable; 30% cancel a live order (a shadow book makes every cancel hit); 10% are IOC
orders priced 0-2 ticks through the opposite touch for three times the average passive
size. Accounts are drawn from 1,000, so self-trade prevention rarely interferes.

Generating needs the book state after every operation, so it runs the fast book one
operation at a time (a few seconds per million) and caches the rows under ``perf/.cache``.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from engine.commands import AddInstrument, CommandBatch, Deposit
from engine.core import Core, CoreConfig
from engine.fastbook.book import FastBook
from engine.instruments import InstrumentSpec
from engine.layout import (
    BUY,
    C_ACCT,
    C_INSTR,
    C_KIND,
    C_OID,
    C_PRICE,
    C_PRODUCT,
    C_QTY,
    C_SEQ,
    C_SIDE,
    C_TIF,
    C_TS,
    C_TYPE,
    CMD_WIDTH,
    DAY,
    E_A,
    E_B,
    E_E,
    E_F,
    E_KIND,
    E_OID,
    EV_ACCEPTED,
    EV_CANCELLED,
    EV_EXPIRED,
    EV_TRADED,
    IOC,
    K_CANCEL,
    K_NEW_ORDER,
    LIMIT,
    MIS,
    SELL,
)
from engine.types import Phase, StpMode

BENCH_SPEC = InstrumentSpec(symbol="BENCH", tick=5, lot=1, ref_price=100_000, band_bps=1000,
                            protection_bps=300, phase=Phase.CONTINUOUS)
CACHE = Path(__file__).resolve().parent / ".cache"
FIRST_SEQ = 2  # seq 1 adds the instrument
FUNDS = 10**13  # paise per account in `core_for_stream`: no order is refused for money
TS0 = 1_700_000_000_000_000_000
PASSIVE_MAX = 100


STREAM_VERSION = 3  # bump when the generator changes, so stale caches are not reused


def stream_path(n: int, seed: int) -> Path:
    return CACHE / f"standard-v{STREAM_VERSION}-{n}-{seed}.npy"


def standard_stream(n: int = 1_000_000, seed: int = 42, accounts: int = 1_000) -> np.ndarray:
    """The (n, CMD_WIDTH) rows of the standard stream, from the cache when present."""
    path = stream_path(n, seed)
    if path.exists():
        return np.load(path)
    rows = generate(n, seed, accounts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, rows)
    return rows


def generate(n: int, seed: int, accounts: int) -> np.ndarray:
    rnd = random.Random(seed)
    book = FastBook(max_orders=1 << 16, max_accounts=accounts,
                    stp_default=int(StpMode.CANCEL_INCOMING), levels=8192)
    book.add_instrument(BENCH_SPEC)
    tick = BENCH_SPEC.tick
    rows = np.zeros((n, CMD_WIDTH), dtype=np.int64)
    live: list[int] = []
    where: dict[int, int] = {}
    owner: dict[int, int] = {}
    fair = BENCH_SPEC.ref_price
    ioc_qty = 3 * (PASSIVE_MAX + 1) // 2
    for i in range(n):
        seq = FIRST_SEQ + i
        if i % 8 == 0:
            fair += rnd.choice((-tick, tick))
        row = rows[i]
        row[C_SEQ], row[C_TS], row[C_ACCT] = seq, TS0 + seq, rnd.randrange(accounts)
        r = rnd.random()
        bid, ask = book.touch(0)
        if r < 0.30 and live:
            oid = live[rnd.randrange(len(live))]
            row[C_KIND], row[C_OID], row[C_ACCT] = K_CANCEL, oid, owner[oid]
        else:
            side = rnd.choice((BUY, SELL))
            row[C_KIND], row[C_OID], row[C_INSTR], row[C_SIDE] = K_NEW_ORDER, seq, 0, side
            row[C_TYPE], row[C_TIF], row[C_PRODUCT] = LIMIT, DAY, MIS
            if r < 0.40:
                touch = ask if side == BUY else bid
                base = touch if touch > 0 else fair
                through = rnd.randint(0, 2) * tick
                row[C_PRICE] = base + through if side == BUY else base - through
                row[C_TIF], row[C_QTY] = IOC, ioc_qty
            else:
                row[C_PRICE] = _passive_price(rnd, side, fair, bid, ask, tick)
                row[C_QTY] = rnd.randint(1, PASSIVE_MAX)
        if row[C_KIND] == K_NEW_ORDER:
            owner[seq] = int(row[C_ACCT])
        events, count = book.process_into(rows[i : i + 1])
        _track(events[:count], live, where)
    return rows


def _passive_price(rnd: random.Random, side: int, fair: int, bid: int, ask: int,
                   tick: int) -> int:
    if rnd.random() < 0.05:  # deliberately marketable
        return fair + 2 * tick if side == BUY else fair - 2 * tick
    behind = 1
    while behind < 50 and rnd.random() > 0.15:
        behind += 1
    if side == BUY:
        price = fair - behind * tick
        return min(price, ask - tick) if ask > 0 else price
    price = fair + behind * tick
    return max(price, bid + tick) if bid > 0 else price


def _track(events: np.ndarray, live: list[int], where: dict[int, int]) -> None:
    """Keep ``live`` (order ids resting now) in step with one operation's events."""
    for e in events.tolist():
        kind = e[E_KIND]
        if kind == EV_ACCEPTED:
            where[e[E_OID]] = len(live)
            live.append(e[E_OID])
        elif kind == EV_TRADED:
            if e[E_E] == 0:
                _drop(e[E_A], live, where)
            if e[E_F] == 0:
                _drop(e[E_B], live, where)
        elif kind in (EV_CANCELLED, EV_EXPIRED):
            _drop(e[E_OID], live, where)


def _drop(oid: int, live: list[int], where: dict[int, int]) -> None:
    at = where.pop(oid, None)
    if at is None:
        return
    last = live.pop()
    if at < len(live):
        live[at] = last
        where[last] = at


def core_for_stream(rows: np.ndarray, accounts: int = 1_000) -> tuple[Core, np.ndarray]:
    """A core with the stream's instrument and its accounts funded and unthrottled (as a
    node's traders are), so the stream's orders are accepted and trade instead of being
    refused for money; and ``rows`` renumbered to follow that setup."""
    core = Core(CoreConfig(max_orders=1 << 16, max_accounts=accounts, initial_levels=8192,
                           default_rate=0))
    setup = CommandBatch.of([AddInstrument(BENCH_SPEC)]
                            + [Deposit(account, FUNDS) for account in range(accounts)])
    setup.rows[:, C_SEQ] = np.arange(1, len(setup.rows) + 1)
    core.apply(setup)
    rows = rows.copy()
    rows[:, C_SEQ] = np.arange(len(setup.rows) + 1, len(setup.rows) + 1 + len(rows))
    return core, rows
