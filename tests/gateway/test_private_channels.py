"""Random trading between two accounts over real WebSockets: a client that applies the
private channels' snapshot and updates always ends where the queries say the account is."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from gateway.client import Client, ClientError
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import order

# Cancelling or amending an order that has already finished, or amending to what it is.
EXPECTED_REFUSALS = {"ORDER_NOT_FOUND", "AMEND_NO_CHANGE"}


class AccountMirror:
    """What a terminal holds from the private channels alone."""

    def __init__(self) -> None:
        self.orders: dict[int, dict] = {}
        self.positions: list[dict] = []
        self.funds: dict = {}
        self.seqs: dict[str, int] = {}

    def apply(self, push: dict) -> None:
        channel, data = push["ch"], push["data"]
        if not push.get("snapshot"):
            assert push["seq"] == self.seqs[channel] + 1, f"a gap in {channel}"
        self.seqs[channel] = push["seq"]
        if channel == "orders":
            for record in data if isinstance(data, list) else [data]:
                self.orders[record["order_id"]] = record
        elif channel == "positions":
            self.positions = data["positions"]
        elif channel == "funds":
            self.funds = data

    def open_orders(self) -> dict[int, dict]:
        return {oid: o for oid, o in self.orders.items()
                if o["status"] in ("OPEN", "PARTIALLY_FILLED", "TRIGGER_PENDING")}


async def random_step(rng: random.Random, client: Client, tag: str, n: int,
                      placed: list[str]) -> str:
    """One random request; the code it was refused with, or "" when accepted."""
    roll = rng.random()
    try:
        if roll < 0.6 or not placed:
            cid = f"{tag}-{n}"
            side = rng.choice(["buy", "sell"])
            price = 141_000 + 5 * rng.randint(-6, 6)
            extra = {"tif": "ioc"} if rng.random() < 0.2 else {}
            await client.request("place", **order(cid, side, rng.randint(1, 5), price, **extra))
            placed.append(cid)
        elif roll < 0.85:
            await client.request("cancel", client_order_id=rng.choice(placed))
        else:
            await client.request("amend", client_order_id=rng.choice(placed),
                                 qty=rng.randint(1, 8))
    except ClientError as exc:
        return exc.code
    return ""


@pytest.mark.parametrize("seed", [1, 2])
async def test_private_channels_add_up_to_the_queries(exchange: Exchange, seed: int) -> None:
    rng = random.Random(seed)
    alice, bob = await exchange.client(exchange.alice), await exchange.client(exchange.bob)
    mirror = AccountMirror()
    try:
        await alice.request("subscribe", channels=["orders", "positions", "funds"])
        placed: dict[str, list[str]] = {"a": [], "b": []}
        refused: Counter[str] = Counter()
        for n in range(120):
            who, tag = (alice, "a") if rng.random() < 0.5 else (bob, "b")
            refused[await random_step(rng, who, tag, n, placed[tag])] += 1
            for push in alice.drain():
                if push["ch"] in ("orders", "positions", "funds"):
                    mirror.apply(push)
        await alice.request("ping")  # everything before it has been pushed by now
        for push in alice.drain():
            if push["ch"] in ("orders", "positions", "funds"):
                mirror.apply(push)

        queried = {o["order_id"]: o for o in await alice.request("orders")}
        assert mirror.open_orders() == queried
        assert mirror.funds == await alice.request("funds")
        positions = (await alice.request("positions"))["positions"]
        key = ("symbol", "product", "net", "average_price", "realised", "open_buy", "open_sell")
        assert [[p[k] for k in key] for p in mirror.positions] == [
            [p[k] for k in key] for p in positions]
        assert any(o["status"] == "FILLED" for o in mirror.orders.values()), "some traded"
        assert set(refused) - {""} <= EXPECTED_REFUSALS
    finally:
        await alice.close()
        await bob.close()
