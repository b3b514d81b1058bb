"""What a trader reads: positions with average price and P&L, balances, the trial balance."""

from __future__ import annotations

import pytest

from engine.types import Product
from portfolio import views
from tests.engine.harness import Harness


@pytest.fixture(params=["reference", "fast"])
def traded(request: pytest.FixtureRequest) -> Harness:
    h = Harness(request.param, risk=True)
    h.run("""
        DEPOSIT acct=1 10000.00
        DEPOSIT acct=2 10000.00
        DEPOSIT acct=3 10000.00
        SELL 100.00 x 3 #s1 mis acct=2
        BUY 100.00 x 3 #b1 mis acct=1
        SELL 101.00 x 2 #s2 mis acct=2
        BUY 101.00 x 2 #b2 mis acct=1
        SELL 102.00 x 1 #s3 mis acct=1
        BUY 102.00 x 1 #b3 cnc acct=3
        BUY 90.00 x 5 #open cnc acct=3
    """)
    return h


def test_positions_carry_average_price_and_both_pnls(traded: Harness) -> None:
    state = traded.core.risk.state()
    by_key = {(p.account, p.product): p for p in views.positions(state, [10_300, 0])}
    long = by_key[(1, Product.MIS)]
    # Bought 3 @ 100 and 2 @ 101 (basis 502.00), sold 1 @ 102: a fifth of the basis closed.
    assert (long.net, long.average_price) == (4, 10_040)
    assert long.realised == 10_200 - 10_040
    assert long.unrealised == 4 * 10_300 - (50_200 - 10_040)
    short = by_key[(2, Product.MIS)]
    assert (short.net, short.average_price, short.realised) == (-5, 10_040, 0)
    assert short.unrealised == -5 * 10_300 + 50_200
    holding = by_key[(3, Product.CNC)]
    assert holding.is_holding
    assert (holding.net, holding.average_price, holding.open_buy) == (1, 10_200, 5)
    assert not long.is_holding


def test_balances_and_buying_power(traded: Harness) -> None:
    accounts = {a.account: a for a in views.accounts(traded.core.risk.state())}
    buyer = accounts[3]
    assert buyer.cash == 1_000_000 - 10_200  # delivery pays the trade value
    assert buyer.blocked == 5 * 9_000  # the open delivery buy blocks its value
    assert buyer.buying_power == buyer.free_cash == buyer.cash - buyer.blocked
    intraday = accounts[1]
    assert intraday.margin > 0
    assert intraday.buying_power == intraday.cash - intraday.blocked - intraday.margin


def test_the_trial_balance_shows_balanced_books(traded: Harness) -> None:
    balance = views.trial_balance(traded.core.risk.state())
    assert balance.balanced
    assert balance.clients == 3_000_000 - 10_200 + 160  # deposits, the delivery buy, a profit
    assert balance.system["bank"] == -3_000_000
    assert balance.clients + sum(balance.system.values()) == 0


@pytest.mark.parametrize(("net", "basis", "average"), [
    (0, 0, 0), (3, 30_001, 10_000), (3, 30_002, 10_001), (-3, -30_002, 10_001), (2, 3, 2),
])
def test_average_price_rounds_half_away_from_zero(net: int, basis: int, average: int) -> None:
    assert views.average_price(net, basis) == average


def test_one_account_reads_like_the_whole_state(traded: Harness) -> None:
    risk = traded.core.risk
    state = risk.state()
    for row in state.accounts.tolist():
        assert risk.account_state(row[0]) == row
        mine = [p for p in state.positions.tolist() if p[0] == row[0]]
        assert risk.positions_of(row[0]) == mine
    assert risk.positions_of(9) == []
