"""The AsyncAPI document: generated from the server's own types, committed up to date,
covering every operation, with every reference resolving and real messages fitting it."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import msgspec

from gateway import asyncapi, ops
from gateway.private import Order
from marketdata.hub import DepthView, Ticker, Trades
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import SYMBOL, order

DOCUMENT = Path(__file__).parents[2] / "docs" / "asyncapi.json"


def test_the_committed_document_is_what_the_code_generates() -> None:
    expected = asyncapi.render(metadata.version("gridworks"))
    assert DOCUMENT.read_text(encoding="utf-8") == expected, (
        "docs/asyncapi.json is stale: run `gridworks asyncapi > docs/asyncapi.json`")


def test_every_operation_is_described_and_every_reference_resolves(
        exchange: Exchange) -> None:
    assert set(asyncapi.OPERATIONS) == set(exchange.gateway.operations.quick) | set(
        exchange.gateway.operations.waiting)
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            found = [node["$ref"]] if "$ref" in node else []
            return found + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    for ref in refs(document):
        target: Any = document
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert target, ref


async def test_real_replies_and_pushes_fit_the_schemas(exchange: Exchange) -> None:
    alice, bob = await exchange.client(exchange.alice), await exchange.client(exchange.bob)
    try:
        await alice.request("subscribe", channels=[f"depth.{SYMBOL}", f"ticker.{SYMBOL}",
                                                   f"trades.{SYMBOL}"])
        placed = await alice.request("place", **order("a-1", "sell", 3, 141_300))
        traded = await bob.request("place", **order("b-1", "buy", 1, 141_300, tif="ioc"))
        for result in (placed, traded):
            msgspec.convert(result, ops.Outcome, strict=True)
        msgspec.convert(await alice.request("order", client_order_id="a-1"), Order)
        for channel, payload in ((f"depth.{SYMBOL}", DepthView), (f"ticker.{SYMBOL}", Ticker),
                                 (f"trades.{SYMBOL}", Trades)):
            for _ in range(2):  # the snapshot, then an update
                msgspec.convert((await alice.next_push(channel))["data"], payload)
    finally:
        await alice.close()
        await bob.close()
