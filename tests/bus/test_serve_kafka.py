"""``gridworks serve --kafka`` as an operator runs it, killed with SIGKILL in the middle of
a stream of orders and started again: the topics then hold every record the journal
implies exactly once after consumers drop duplicates, and every acknowledged order is
there."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from bus import schemas
from bus.kafka import KafkaConfig, topic_names
from gateway.client import Client
from gridworks.config import NodeConfig, core_config
from store import shadow
from tests.bus.conftest import free_port, read_all
from tests.bus.test_kafka_publisher import named, reference
from tests.gridworks.test_serve import DEMO_LINE, read_until

pytestmark = pytest.mark.timeout(180)


def serve(data: Path, port: int, broker: str) -> subprocess.Popen[str]:
    env = {**os.environ, "GRIDWORKS_KAFKA_IDEMPOTENT": "false",
           "GRIDWORKS_KAFKA_PARTITIONS": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "gridworks.cli", "serve", "--data", str(data), "--port",
         str(port), "--rest-port", "-1", "--fsync", "os", "--kafka", broker],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


async def place(port: int, key_id: str, secret: str, start: int, n: int) -> list[int]:
    """Orders that rest and orders that trade (the demo key's retail rate limit refuses
    some); the ids of those acknowledged, until the server goes away."""
    client = await Client.connect(f"ws://127.0.0.1:{port}/")
    acked = []
    try:
        await client.login(key_id, secret)
        for i in range(start, start + n):
            side = "buy" if i % 2 else "sell"
            try:
                done = await client.request("place", symbol="RELIANCE", side=side, qty=1,
                                            price=141_000, client_order_id=f"o{i}")
            except (ConnectionError, OSError, TimeoutError):
                break
            except Exception:  # a refusal (funds, limits): not acknowledged
                continue
            acked.append(done["order_id"])
    finally:
        await client.close()
    return acked


async def test_kill_9_in_the_middle_and_start_again(broker: str, tmp_path: Path) -> None:
    data, port = tmp_path / "data", free_port()
    first = serve(data, port, broker)
    lines = read_until(first, "publishing events to Kafka")
    lines += read_until(first, "WebSocket API on")
    (demo,) = [m for line in lines if (m := DEMO_LINE.search(line))]
    key_id, secret = demo.group(2), demo.group(3)
    acked = await place(port, key_id, secret, 0, 60)
    streaming = asyncio.create_task(place(port, key_id, secret, 60, 100_000))
    await asyncio.sleep(1.0)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    during = await streaming
    assert during  # orders were acknowledged up to the kill
    acked += during
    second = serve(data, port, broker)
    try:
        read_until(second, "WebSocket API on")
        acked += await place(port, key_id, secret, 200_000, 40)
        await asyncio.sleep(2.0)  # the publisher catches up from its checkpoint
    finally:
        second.send_signal(signal.SIGTERM)
        await asyncio.to_thread(second.communicate, timeout=60)
    config = KafkaConfig(broker)
    got, _ = named(await read_all(broker, topic_names(config)))
    cfg = core_config(NodeConfig(data_dir=data))
    journaled = sum(len(b) for b in shadow.read_range(data, 0, 1 << 62))
    assert got == reference(data, cfg, journaled)
    created = {msgspec.json.decode(v, type=schemas.OrderCreated).order_id
               for (topic, _, _), v in got.items() if topic == "orders.created"}
    assert set(acked) <= created
