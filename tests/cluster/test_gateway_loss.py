"""A gateway killed with SIGKILL while its client trades: the client moves to another gateway
of the shard, resumes its orders stream there from the last message the dead one sent (the
gateways number channels alike, by the log), finds every order the dead one acknowledged,
learns the fate of the ones it was waiting for by their client order ids, and a retry of one
that never arrived is placed once — the client order id refuses a second copy."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from gateway.client import Client, ClientError
from gridworks.cluster import ClusterPlan, LocalCluster
from tests.store.conftest import REDIS

pytestmark = pytest.mark.timeout(180)


def order(cid: str) -> dict:
    return {"symbol": "RELIANCE", "side": "buy", "qty": 1, "price": 140_000,
            "client_order_id": cid}


async def lookup(client: Client, cid: str) -> dict | None:
    """The order with this client order id, or None when the shard never received it."""
    try:
        return await client.request("order", client_order_id=cid)  # type: ignore[no-any-return]
    except ClientError as exc:
        if exc.code != "ORDER_NOT_FOUND":
            raise
        return None


async def test_a_client_moves_to_another_gateway(broker: str, redis_prefix: str,
                                                 kafka_prefix: str, tmp_path: Path) -> None:
    plan = ClusterPlan(kafka=broker, redis=REDIS, engines_per_shard=1, redis_prefix=redis_prefix,
                       kafka_prefix=kafka_prefix, kafka_idempotent=False)
    cluster = LocalCluster(tmp_path, plan)
    clients: list[Client] = []
    try:
        cluster.start()
        demo = cluster.credentials("demo")
        doomed, other = cluster.gateways()
        first = await Client.connect(f"ws://127.0.0.1:{doomed.port}/")
        clients.append(first)
        await first.login(demo["key_id"], demo["secret"])
        subscribed = await first.request("subscribe", channels=["orders"])
        acked: list[str] = []
        for n in range(5):
            await first.request("place", **order(f"g{n}"))
            acked.append(f"g{n}")
            await asyncio.sleep(0.12)  # within the demo account's 10 orders a second
        # Requests in flight when the gateway dies: their replies never come.
        in_flight = [f"g{n}" for n in range(5, 8)]
        calls = [asyncio.create_task(first.call("place", order(cid), timeout=3))
                 for cid in in_flight]
        await asyncio.sleep(0.3)  # some of their pushes may still come from the first
        cluster.kill(doomed)
        await asyncio.gather(*calls, return_exceptions=True)
        before = [p for p in first.drain("orders") if not p.get("snapshot")]
        assert before, "the first gateway pushed the orders it acknowledged"

        second = await Client.connect(f"ws://127.0.0.1:{other.port}/")
        clients.append(second)
        await second.login(demo["key_id"], demo["secret"])
        resumed = await second.request("subscribe", channels=["orders"],
                                       epoch=subscribed["epoch"],
                                       resume={"orders": before[-1]["seq"]})
        assert resumed["epoch"] == subscribed["epoch"]  # the same numbering on both
        assert resumed["subscribed"]["orders"]["resumed"] is True
        await asyncio.sleep(0.3)
        after = second.drain("orders")
        stream = before + after
        assert [p["seq"] for p in stream] == list(range(stream[0]["seq"],
                                                        stream[0]["seq"] + len(stream)))
        pushed = {p["data"]["client_order_id"] for p in stream}
        for cid in acked:
            found = await second.request("order", client_order_id=cid)
            assert found["status"] == "OPEN"
        for cid in in_flight:
            await asyncio.sleep(0.12)
            found = await lookup(second, cid)
            if found is None:  # it never reached the shard: send it again
                await second.request("place", **order(cid))
            else:
                assert found["status"] == "OPEN"
            with pytest.raises(ClientError) as again:  # now it is there: a copy is refused
                await second.request("place", **order(cid))
            assert "DUPLICATE_CLIENT_ORDER_ID" in str(again.value)
            await asyncio.sleep(0.12)
        orders = await second.request("orders")
        assert sorted(o["client_order_id"] for o in orders) == sorted(acked + in_flight)
        assert set(acked) <= pushed  # nothing the client was told of is missing
        await asyncio.sleep(0.3)
        later = [p["data"]["client_order_id"] for p in second.drain("orders")]
        assert sorted(pushed | set(later)) == sorted(acked + in_flight)
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
        cluster.stop()
