"""Read-only views of the account side for clients and operators, from its canonical state.

The core keeps positions as net quantity and basis (signed cost of the open lots) and
accounts as raw balances; these views derive what a trader reads: average price,
unrealised P&L at given marks, buying power, free cash, holdings, and the ledger's trial
balance. All money stays in integer paise.
"""

from __future__ import annotations

import msgspec
import numpy as np

from engine.types import Product
from risk.state import ACCOUNT_FIELDS, LEDGER_FIELDS, POSITION_FIELDS, RiskState


class PositionView(msgspec.Struct, frozen=True):
    account: int
    instrument: int
    product: Product
    net: int
    average_price: int  # paise, rounded half away from zero; 0 when flat
    basis: int  # signed cost of the net position, paise: unrealised = net x mark - basis
    realised: int
    unrealised: int  # at the marks the view was given
    margin: int
    open_buy: int
    open_sell: int
    day_buy_qty: int
    day_sell_qty: int
    overnight: int

    @property
    def is_holding(self) -> bool:
        """Delivery (CNC) positions are holdings: shares owned, not a margin position."""
        return self.product == Product.CNC and self.net > 0


class AccountView(msgspec.Struct, frozen=True):
    account: int
    cash: int
    credit: int
    blocked: int
    margin: int
    buying_power: int  # cash + credit - blocked - margin
    free_cash: int  # what a withdrawal may take: cash - blocked - margin
    unrealised: int  # as of the last mark
    equity: int  # as of the last mark
    in_margin_call: bool


class TrialBalance(msgspec.Struct, frozen=True):
    clients: int  # the sum of every client's cash
    system: dict[str, int]  # clearing, bank and the charge accounts
    balanced: bool  # clients + system == 0: every entry had two equal sides


def average_price(net: int, basis: int) -> int:
    if net == 0:
        return 0
    sign = -1 if (basis < 0) != (net < 0) else 1
    return sign * ((2 * abs(basis) + abs(net)) // (2 * abs(net)))


def position_view(row: list[int], marks: list[int] | np.ndarray) -> PositionView:
    """One position row (`POSITION_FIELDS`), unrealised P&L valued at ``marks``."""
    p = dict(zip(POSITION_FIELDS, row, strict=True))
    net, basis = p["net"], p["basis"]
    return PositionView(
        account=p["acct"], instrument=p["instr"], product=Product(p["product"]),
        net=net, average_price=average_price(net, basis), basis=basis if net else 0,
        realised=p["realised"],
        unrealised=net * int(marks[p["instr"]]) - basis if net else 0,
        margin=p["margin"], open_buy=p["open_buy"], open_sell=p["open_sell"],
        day_buy_qty=p["day_buy_qty"], day_sell_qty=p["day_sell_qty"],
        overnight=p["overnight"],
    )


def positions(state: RiskState, marks: list[int] | np.ndarray) -> list[PositionView]:
    """Every open position, unrealised P&L valued at ``marks`` (paise per instrument)."""
    return [position_view(row, marks) for row in state.positions.tolist()]


def account_view(row: list[int]) -> AccountView:
    """One account row (`ACCOUNT_FIELDS`) with what follows from it."""
    a = dict(zip(ACCOUNT_FIELDS, row, strict=True))
    free = a["cash"] - a["blocked"] - a["margin"]
    return AccountView(
        account=a["acct"], cash=a["cash"], credit=a["credit"], blocked=a["blocked"],
        margin=a["margin"], buying_power=free + a["credit"], free_cash=free,
        unrealised=a["unrealised"], equity=a["equity"], in_margin_call=bool(a["in_call"]),
    )


def accounts(state: RiskState) -> list[AccountView]:
    """Every account that differs from a fresh one."""
    return [account_view(row) for row in state.accounts.tolist()]


def trial_balance(state: RiskState) -> TrialBalance:
    clients = int(state.accounts[:, ACCOUNT_FIELDS.index("cash")].sum())
    system = dict(zip(LEDGER_FIELDS, (int(v) for v in state.ledger), strict=True))
    return TrialBalance(clients, system, clients + sum(system.values()) == 0)
