"""Invariants of the account side, checked on the canonical state of either implementation.

* The ledger balances: client cash plus every system ledger account sums to zero.
* Blocked funds are exactly what the open orders still need, account by account, and each
  order's share is the rule's `need_for` of its remaining quantity.
* Open order counts and open quantities per position match the open orders.
* Margin held and the margin cost basis per account are the sums over its positions.
* Conservation: the clearing account mirrors the cost of intraday/carry-forward positions
  (cash + positions valued at any common mark is conserved across trades, charges apart).
"""

from __future__ import annotations

from collections import defaultdict

from engine.layout import CNC
from risk import rules
from risk.state import ACCOUNT_FIELDS, LEDGER_FIELDS, ORDER_FIELDS, POSITION_FIELDS, RiskState


def rows(table, names):
    return [dict(zip(names, r, strict=True)) for r in table.tolist()]


def check(state: RiskState) -> None:
    accounts = {a["acct"]: a for a in rows(state.accounts, ACCOUNT_FIELDS)}
    positions = rows(state.positions, POSITION_FIELDS)
    orders = rows(state.orders, ORDER_FIELDS)
    ledger = dict(zip(LEDGER_FIELDS, state.ledger.tolist(), strict=True))
    assert sum(a["cash"] for a in accounts.values()) + sum(ledger.values()) == 0, "unbalanced"

    blocked, count = defaultdict(int), defaultdict(int)
    open_qty = defaultdict(int)
    for o in orders:
        assert o["blocked"] == rules.need_for(o["product"], o["side"], o["leaves"], o["reduce"],
                                              o["block_price"], o["rate"]), o
        assert 0 <= o["reduce"] <= o["leaves"] <= o["qty"], o
        blocked[o["acct"]] += o["blocked"]
        count[o["acct"]] += 1
        open_qty[(o["acct"], o["instr"], o["product"], o["side"])] += o["leaves"]
    margin, basis = defaultdict(int), defaultdict(int)
    clearing_mirror = 0
    for p in positions:
        key = (p["acct"], p["instr"], p["product"])
        assert p["open_buy"] == open_qty[(*key, 0)], p
        assert p["open_sell"] == open_qty[(*key, 1)], p
        assert (p["net"] == 0) == (p["basis"] == 0), p
        if p["product"] != CNC:
            margin[p["acct"]] += p["margin"]
            basis[p["acct"]] += p["basis"]
            clearing_mirror += p["basis"]
    for acct, a in accounts.items():
        assert a["blocked"] == blocked[acct], (acct, a["blocked"], blocked[acct])
        assert a["open"] == count[acct], acct
        assert a["margin"] == margin[acct], acct
        assert a["basis_margin"] == basis[acct], acct
    assert set(blocked) <= set(accounts) or all(v == 0 for v in blocked.values())
    assert ledger["clearing"] + clearing_mirror == 0, "value is not conserved"


def check_value(state: RiskState, marks: list[int]) -> None:
    """Cash plus positions valued at any common marks equals net deposits minus charges:
    trading between accounts moves value, it never creates or destroys it."""
    ledger = dict(zip(LEDGER_FIELDS, state.ledger.tolist(), strict=True))
    total = sum(r[ACCOUNT_FIELDS.index("cash")] for r in state.accounts.tolist())
    for p in rows(state.positions, POSITION_FIELDS):
        value = p["net"] * marks[p["instr"]]
        total += value if p["product"] == CNC else value - p["basis"]
    deposits_less_charges = -sum(v for k, v in ledger.items() if k != "clearing")
    assert total == deposits_less_charges, (total, deposits_less_charges)
