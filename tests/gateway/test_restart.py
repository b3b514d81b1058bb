"""A gateway started on a recovered node knows the orders resting from before the restart:
queries, cancels by client order id and their later fills work as before it."""

from __future__ import annotations

from gateway.client import Client
from gateway.server import Gateway, GatewayConfig
from gridworks.node import Node
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import order


async def test_orders_resting_before_a_restart_are_still_known(exchange: Exchange) -> None:
    alice = await exchange.client(exchange.alice)
    placed = await alice.request("place", **order("r-1", "buy", 5, 141_000))
    await alice.request("place", **order("r-2", "buy", 1, 142_500, type="sl", trigger=142_000))
    await alice.close()
    await exchange.gateway.stop(reconnect_after_ms=0)
    await exchange.node.stop()

    node = Node(exchange.node.config)
    await node.start()
    gateway = Gateway(node, node.kek, GatewayConfig(port=0, limits=exchange.gateway.config.limits))
    await gateway.start()
    url = f"ws://127.0.0.1:{gateway.port}/"
    try:
        alice, bob = await Client.connect(url), await Client.connect(url)
        await alice.login(exchange.alice.key_id, exchange.alice.secret)
        await bob.login(exchange.bob.key_id, exchange.bob.secret)
        found = await alice.request("order", client_order_id="r-1")
        assert (found["order_id"], found["status"], found["leaves"]) == (
            placed["order_id"], "OPEN", 5)
        stop = await alice.request("order", client_order_id="r-2")
        assert (stop["status"], stop["type"], stop["trigger"]) == ("TRIGGER_PENDING", "SL",
                                                                   142_000)
        assert {o["client_order_id"] for o in await alice.request("orders")} == {"r-1", "r-2"}

        await alice.request("subscribe", channels=["orders"])
        await alice.next_push("orders")  # the snapshot
        await bob.request("place", **order("s-1", "sell", 2, 141_000, tif="ioc"))
        update = (await alice.next_push("orders"))["data"]
        assert (update["client_order_id"], update["status"], update["filled"]) == (
            "r-1", "PARTIALLY_FILLED", 2)
        cancelled = await alice.request("cancel", client_order_id="r-1")
        assert (cancelled["status"], cancelled["cancelled"]) == ("CANCELLED", 3)
        await alice.close()
        await bob.close()
    finally:
        await gateway.stop(reconnect_after_ms=0)
        await node.stop()
