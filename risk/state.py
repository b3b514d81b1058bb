"""The canonical, implementation-independent state of the account side of the core.

Like `engine.snapshot_types` for the books: both the reference and the numba implementation
export exactly these arrays, so their states can be compared and hashed, and either can be
restored from a snapshot the other wrote. Only accounts whose state differs from a fresh
account appear; positions are sorted by (account, instrument, product), orders by id.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACCOUNT_FIELDS: tuple[str, ...] = (
    "acct", "cash", "blocked", "margin", "credit", "max_value", "max_open", "open",
    "max_long", "max_short", "rate", "tokens", "token_ts", "killed", "in_call",
    "basis_margin", "unrealised", "equity", "day_brokerage",
)
POSITION_FIELDS: tuple[str, ...] = (
    "acct", "instr", "product", "net", "basis", "realised", "margin", "open_buy", "open_sell",
    "day_buy_qty", "day_buy_val", "day_sell_qty", "day_sell_val", "overnight",
)
ORDER_FIELDS: tuple[str, ...] = (
    "oid", "acct", "instr", "product", "side", "qty", "leaves", "reduce", "block_price",
    "rate", "blocked", "turnover",
)
INSTRUMENT_FIELDS: tuple[str, ...] = ("killed", "mark")
LEDGER_FIELDS: tuple[str, ...] = (
    "clearing", "bank", "brokerage", "stt", "exchange", "sebi", "stamp", "gst",
)


@dataclass(frozen=True, slots=True, eq=False)
class RiskState:
    accounts: np.ndarray  # (n, len(ACCOUNT_FIELDS)) int64, ascending account
    positions: np.ndarray  # (n, len(POSITION_FIELDS)) int64, ascending key
    orders: np.ndarray  # (n, len(ORDER_FIELDS)) int64, ascending order id
    instruments: np.ndarray  # (n_instruments, len(INSTRUMENT_FIELDS)) int64
    ledger: np.ndarray  # (len(LEDGER_FIELDS),) balances of the system ledger accounts
    global_kill: int
    next_synthetic: int
    closed_day: int = 0  # YYYYMMDD of the last end of day (0: none yet)
    intraday_closed: int = -1  # Indian day (since the epoch) of the last MIS square-off

    def same_as(self, other: RiskState) -> bool:
        return not self.differences(other)

    def differences(self, other: RiskState) -> list[str]:
        """Human-readable differences, for test failures."""
        out = []
        for name in ("accounts", "positions", "orders", "instruments", "ledger"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if not np.array_equal(mine, theirs):
                out.append(f"{name}:\n{mine}\n!=\n{theirs}")
        scalars = ("global_kill", "next_synthetic", "closed_day", "intraday_closed")
        for name in scalars:
            if getattr(self, name) != getattr(other, name):
                out.append(f"{name}: {getattr(self, name)} != {getattr(other, name)}")
        return out
