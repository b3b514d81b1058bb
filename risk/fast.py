"""`FastRisk`: the Python face of the numba account side, with `ReferenceRisk`'s interface.

The hot path is `process`, one call of the risk pipeline kernel per batch of rows. The rest
serves the core's rarer commands (kill switch, square-off, end of day) and snapshots, and
works on the arena with numpy.
"""

from __future__ import annotations

import numpy as np

from engine.fastbook.arena import address
from engine.fastbook.book import FastBook
from engine.fastbook.containers import lookup
from engine.instruments import InstrumentSpec
from engine.layout import CNC, EQ_SEGMENT, FUT_SEGMENT
from engine.types import KillScope
from portfolio.arena import (
    A_DAY_BROKERAGE,
    A_KILLED,
    H_ACTIVE,
    H_CLOSED_DAY,
    H_INTRADAY_CLOSED,
    H_KILL,
    H_LEDGER,
    H_MAXACCT,
    H_MTM_ADDR,
    H_MTM_COLS,
    H_NINSTR,
    H_ORD_LIVE,
    H_POS_CAP,
    H_SYNTH,
    N_ACCOUNT,
    N_ORDER,
    P_ACCT,
    P_DAY_BUY_QTY,
    P_DAY_BUY_VAL,
    P_DAY_SELL_QTY,
    P_DAY_SELL_VAL,
    P_INSTR,
    P_KEY,
    P_NET,
    P_OPEN_BUY,
    P_OPEN_SELL,
    P_OVERNIGHT,
    P_PRODUCT,
    Q_ACCT,
    Q_INSTR,
    Q_OID,
    Q_POS,
    Q_PRODUCT,
    R_KILLED,
    R_MARK,
    R_PRODUCTS,
    R_RATE,
    R_SEGMENT,
    accounts,
    default_account_row,
    header,
    kernel,
    mtm_matrix,
    new_arena,
    orders,
    positions,
    views,
)
from portfolio.positions import (
    account_position_slots,
    accounts_position_slots,
    close_position,
    find_position,
    open_position,
    transfer,
)
from risk.pipeline import run
from risk.reference import SYNTHETIC_BASE
from risk.state import RiskState


class FastRisk:
    def __init__(self, max_accounts: int, max_positions: int, maintenance_bps: int,
                 default_rate: int, *, max_orders: int, max_instruments: int) -> None:
        self.default_rate = default_rate
        self.arena = new_arena(max_accounts, max_instruments, max_positions, max_orders,
                               maintenance_bps, default_rate)
        self.arena[H_INTRADAY_CLOSED] = -1
        self._set_mtm(np.zeros((max_accounts, 8), dtype=np.int32))

    def _set_mtm(self, matrix: np.ndarray) -> None:
        self._mtm = np.ascontiguousarray(matrix)
        self.arena[H_MTM_ADDR] = self._mtm.ctypes.data
        self.arena[H_MTM_COLS] = self._mtm.shape[1]

    # --- setup ------------------------------------------------------------------------------

    def add_instrument(self, spec: InstrumentSpec) -> None:
        h, _, irisk, _, _ = views(self.arena)
        instr = int(h[H_NINSTR])
        row = irisk[instr]
        row[:] = 0
        row[R_SEGMENT] = EQ_SEGMENT if spec.segment == "EQ" else FUT_SEGMENT
        for product in spec.products:
            row[R_PRODUCTS] |= 1 << int(product)
            row[R_RATE + int(product)] = spec.margin_bps(product)
        h[H_NINSTR] = instr + 1
        if instr >= self._mtm.shape[1]:  # the matrix grows by doubling its columns
            wider = np.zeros((self._mtm.shape[0], 2 * self._mtm.shape[1]), dtype=np.int32)
            wider[:, : self._mtm.shape[1]] = self._mtm
            self._set_mtm(wider)

    # --- the hot path --------------------------------------------------------------------------

    def process(self, book: FastBook, rows: np.ndarray, keep_events: bool = True) -> np.ndarray:
        return book.process_with(run, self.arena, rows, keep_events)

    # --- the core's rarer commands -------------------------------------------------------------

    def set_kill(self, scope: int, target: int, on: bool) -> None:
        h, accts, irisk, _, _ = views(self.arena)
        if scope == KillScope.GLOBAL:
            h[H_KILL] = int(on)
        elif scope == KillScope.ACCOUNT:
            accts[target, A_KILLED] = int(on)
            h[H_ACTIVE] = max(int(h[H_ACTIVE]), target + 1)
        else:
            irisk[target, R_KILLED] = int(on)

    def _live_orders(self) -> np.ndarray:
        ords = views(self.arena)[4]
        live = ords[ords[:, Q_OID] != 0]
        return live[np.argsort(live[:, Q_OID], kind="stable")]

    def _live_positions(self) -> np.ndarray:
        pos = views(self.arena)[3]
        live = pos[pos[:, P_KEY] != 0]
        return live[np.lexsort((live[:, P_PRODUCT], live[:, P_INSTR], live[:, P_ACCT]))]

    def open_orders(self, product: int = 0, instr: int = -1, acct: int = -1) -> list[tuple]:
        """(order id, account) of open orders matching, ascending order id."""
        o = self._live_orders()
        keep = np.ones(len(o), dtype=bool)
        if product:
            keep &= o[:, Q_PRODUCT] == product
        if instr != -1:
            keep &= o[:, Q_INSTR] == instr
        if acct != -1:
            keep &= o[:, Q_ACCT] == acct
        return [(int(a), int(b)) for a, b in o[keep][:, [Q_OID, Q_ACCT]].tolist()]

    def open_positions(self, product: int, instr: int = -1) -> list[tuple[int, int, int]]:
        """(account, instrument, net) of non-flat positions, ascending key."""
        p = self._live_positions()
        keep = (p[:, P_PRODUCT] == product) & (p[:, P_NET] != 0)
        if instr != -1:
            keep &= p[:, P_INSTR] == instr
        return [tuple(row) for row in p[keep][:, [P_ACCT, P_INSTR, P_NET]].tolist()]

    def account_state(self, acct: int) -> list[int]:
        return [acct, *views(self.arena)[1][acct, :N_ACCOUNT].tolist()]

    def positions_of(self, acct: int) -> list[list[int]]:
        h, _, _, pos, _ = views(self.arena)
        slots = np.empty(int(h[H_NINSTR]) * 3, dtype=np.int64)
        n = account_position_slots(int(self.arena.ctypes.data), acct, slots)
        return pos[slots[:n], P_ACCT : P_OVERNIGHT + 1].tolist()

    def positions_of_accounts(self, accts: np.ndarray) -> np.ndarray:
        """`positions_of` of every account of ``accts`` (ascending), as one array."""
        h, _, _, pos, _ = views(self.arena)
        accts = np.ascontiguousarray(accts, dtype=np.int64)
        slots = np.empty(len(accts) * int(h[H_NINSTR]) * 3, dtype=np.int64)
        n = accounts_position_slots(int(self.arena.ctypes.data), accts, slots)
        return pos[slots[:n], P_ACCT : P_OVERNIGHT + 1]

    def take_synthetic_id(self) -> int:
        self.arena[H_SYNTH] += 1
        return SYNTHETIC_BASE + int(self.arena[H_SYNTH])

    def day_turnover(self) -> dict[int, list[tuple[int, int, int, int]]]:
        out: dict[int, list[tuple[int, int, int, int]]] = {}
        p = self._live_positions()
        active = p[(p[:, P_DAY_BUY_VAL] != 0) | (p[:, P_DAY_SELL_VAL] != 0)]
        for acct, instr, product, buys, sells in active[
            :, [P_ACCT, P_INSTR, P_PRODUCT, P_DAY_BUY_VAL, P_DAY_SELL_VAL]
        ].tolist():
            out.setdefault(acct, []).append((instr, product, buys, sells))
        return out

    def day_brokerage(self, acct: int) -> int:
        return int(views(self.arena)[1][acct, A_DAY_BROKERAGE])

    def transfer(self, acct: int, debit: int, credit: int, amount: int) -> None:
        transfer(int(self.arena.ctypes.data), acct, debit, credit, amount)

    def close_intraday(self, ist_day: int) -> None:
        self.arena[H_INTRADAY_CLOSED] = ist_day

    @property
    def closed_day(self) -> int:
        return int(self.arena[H_CLOSED_DAY])

    def roll_day(self, day: int) -> None:
        _roll_day(self.arena)
        self.arena[H_CLOSED_DAY] = day

    # --- canonical state ---------------------------------------------------------------------

    def state(self) -> RiskState:
        h, accts, irisk, _, _ = views(self.arena)
        table = accts[: h[H_ACTIVE], :N_ACCOUNT]  # the rows beyond it are all defaults
        touched = np.flatnonzero(np.any(table != default_account_row(self.default_rate), axis=1))
        accounts = np.column_stack([touched, table[touched]]) if len(touched) else np.zeros(
            (0, N_ACCOUNT + 1), dtype=np.int64)
        n = int(h[H_NINSTR])
        return RiskState(
            accounts=np.ascontiguousarray(accounts, dtype=np.int64),
            positions=np.ascontiguousarray(self._live_positions()[:, P_ACCT : P_OVERNIGHT + 1]),
            orders=np.ascontiguousarray(self._live_orders()[:, :N_ORDER]),
            instruments=np.ascontiguousarray(irisk[:n][:, [R_KILLED, R_MARK]]),
            ledger=h[H_LEDGER : H_LEDGER + 8].copy(),
            global_kill=int(h[H_KILL]),
            next_synthetic=int(h[H_SYNTH]),
            closed_day=int(h[H_CLOSED_DAY]),
            intraday_closed=int(h[H_INTRADAY_CLOSED]),
        )

    def load(self, state: RiskState, book: FastBook) -> None:
        """Restore ``state``; ``book`` already holds the open orders, whose slots give their
        rows here."""
        h, accts, irisk, _, _ = views(self.arena)
        for row in state.accounts:
            accts[row[0], :N_ACCOUNT] = row[1:]
        if len(state.accounts):  # every account the image holds (positions add theirs)
            h[H_ACTIVE] = max(int(h[H_ACTIVE]), int(state.accounts[:, 0].max()) + 1)
        n = state.instruments.shape[0]
        irisk[:n, R_KILLED] = state.instruments[:, 0]
        irisk[:n, R_MARK] = state.instruments[:, 1]
        h[H_LEDGER : H_LEDGER + 8] = state.ledger
        h[H_KILL], h[H_SYNTH] = state.global_kill, state.next_synthetic
        h[H_CLOSED_DAY] = state.closed_day
        h[H_INTRADAY_CLOSED] = state.intraday_closed
        _restore(self.arena, np.ascontiguousarray(state.positions),
                 np.ascontiguousarray(state.orders), book.arena)

    @property
    def max_accounts(self) -> int:
        return int(self.arena[H_MAXACCT])


@kernel
def _roll_day(arena):
    st = address(arena)
    h, pos, accts = header(st), positions(st), accounts(st)
    for slot in range(h[H_POS_CAP]):
        if pos[slot, P_KEY] == 0:
            continue
        pos[slot, P_OVERNIGHT] = pos[slot, P_NET]
        pos[slot, P_DAY_BUY_QTY] = 0
        pos[slot, P_DAY_BUY_VAL] = 0
        pos[slot, P_DAY_SELL_QTY] = 0
        pos[slot, P_DAY_SELL_VAL] = 0
        if pos[slot, P_NET] == 0 and pos[slot, P_OPEN_BUY] == 0 and pos[slot, P_OPEN_SELL] == 0:
            close_position(st, slot)
    for a in range(h[H_ACTIVE]):
        accts[a, A_DAY_BROKERAGE] = 0


@kernel
def _restore(arena, position_rows, order_rows, book_arena):
    """Re-create positions (and the mark-to-market matrix) and open orders, each in the row
    of its slot in the book."""
    st, bst = address(arena), address(book_arena)
    h, pos, ords, matrix = header(st), positions(st), orders(st), mtm_matrix(st)
    for k in range(position_rows.shape[0]):
        row = position_rows[k]
        slot = open_position(st, row[0], row[1], row[2])
        for f in range(row.shape[0]):
            pos[slot, P_ACCT + f] = row[f]
        if row[2] != CNC:
            matrix[row[0], row[1]] += row[P_NET - P_ACCT]
    for k in range(order_rows.shape[0]):
        row = order_rows[k]
        q = lookup(bst, row[0])
        if q == -1:
            raise ValueError("an open order of the account side is not on the book")
        h[H_ORD_LIVE] += 1
        for f in range(row.shape[0]):
            ords[q, f] = row[f]
        ords[q, Q_POS] = find_position(st, row[1], row[2], row[3])
