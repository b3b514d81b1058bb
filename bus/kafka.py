"""The Kafka publisher: the core's events as records on the topics of `bus.schemas`,
following the node by sequence number, through aiokafka.

* **Trading never waits for Kafka.** The node hands each durable batch to `feed`, which
  only queues it (`engine.follower`); when the broker is slow or away the queue overflows
  and the publisher later reads the commands back from the journal.
* **Every record, in order per key.** Records are produced with ``acks=all`` (and the
  idempotent producer where the broker supports it: ``idempotent``) keyed by account or
  symbol, so one key's records stay in order on one partition.
* **Resumes without a gap.** After the records of a stretch of commands are all
  acknowledged, the publisher writes the stretch's last sequence number to its checkpoint
  topic. A publisher that starts (or restarts after a crash) reads the checkpoint, rebuilds
  its copy of the core there (`store.shadow`) and publishes from the next command. Records
  between the checkpoint and a crash are published again, with the same names: headers
  ``gw-seq`` and ``gw-index`` (the command and the record's place among that command's
  records on its topic) identify each record, and consumers drop what they have seen
  (`Deduplicator`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bus import schemas
from bus.records import Record, Records
from engine.core import CoreConfig
from engine.follower import Follower
from engine.layout import E_TS
from store import shadow

log = logging.getLogger("gridworks.kafka")
CHECKPOINT_TOPIC = "gridworks.publisher"
CHECKPOINT_KEY = b"checkpoint"


@dataclass(frozen=True)
class KafkaConfig:
    bootstrap: str
    prefix: str = ""  # put before every topic name (several deployments on one cluster)
    format: Literal["json", "msgpack"] = "json"
    idempotent: bool = True  # the idempotent producer (the test broker lacks it)
    partitions: int = 6  # for topics the publisher creates
    checkpoint_s: float = 0.5  # the checkpoint is written at most this often
    chunk: int = 5_000  # commands applied and produced before waiting for their acks

    def topic(self, name: str) -> str:
        return self.prefix + name


@dataclass
class PublisherStats:
    published_seq: int = 0  # every record up to here is acknowledged
    checkpoint_seq: int = 0
    head_seq: int = 0
    records: int = 0
    rebuilds: int = 0
    failures: int = 0
    last_error: str = ""
    connected: bool = False

    @property
    def lag(self) -> int:
        return max(0, self.head_seq - self.published_seq)


def encoder(fmt: str) -> Callable[[schemas.Message], bytes]:
    return msgspec.msgpack.encode if fmt == "msgpack" else msgspec.json.encode


def decoder(fmt: str) -> Callable[[bytes], schemas.Message]:
    if fmt == "msgpack":
        return msgspec.msgpack.Decoder(schemas.Any).decode
    return msgspec.json.Decoder(schemas.Any).decode


class KafkaPublisher:
    def __init__(self, data_dir: Path, core_config: CoreConfig, config: KafkaConfig, *,
                 durable_seq: int = 0, retry_s: tuple[float, float] = (0.2, 5.0)) -> None:
        self.data_dir = data_dir
        self.core_config = core_config
        self.config = config
        self.retry_s = retry_s
        self.follower = Follower(data_dir, durable_seq, chunk=config.chunk)
        self.stats = PublisherStats(head_seq=durable_seq)
        self._encode = encoder(config.format)

    def feed(self, batch: object, events: object = None) -> None:
        """A durable batch (a node listener): queued, never waited for."""
        self.follower.feed(batch)  # type: ignore[arg-type]
        self.stats.head_seq = self.follower.head_seq

    async def run(self) -> None:
        """Publish until cancelled; reconnect and rebuild after any failure."""
        delay = self.retry_s[0]
        while True:
            producer = None
            try:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.config.bootstrap, acks="all",
                    enable_idempotence=self.config.idempotent, linger_ms=2,
                    request_timeout_ms=10_000)
                await producer.start()
                self.stats.connected = True
                await ensure_topics(self.config)
                await self._publish(producer)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker went away or refused: start over
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("kafka publisher: %s; retrying in %.1f s", self.stats.last_error,
                            delay)
            finally:
                self.stats.connected = False
                if producer is not None:
                    await _quietly(producer.stop())
            await asyncio.sleep(delay)
            delay = min(self.retry_s[1], delay * 2)

    async def _publish(self, producer: AIOKafkaProducer) -> None:
        last = await read_checkpoint(self.config)
        core, records = await asyncio.to_thread(self._rebuild, last)
        self.stats.published_seq = self.stats.checkpoint_seq = last
        checkpointed = time.monotonic()
        while True:
            batches = await self.follower.next_batches(core.last_seq)
            self.stats.head_seq = self.follower.head_seq
            if not batches:
                await self.follower.wait()
                if core.last_seq > self.stats.checkpoint_seq:
                    await self._checkpoint(producer, core.last_seq)
                continue
            sent = []
            for batch in batches:
                events = shadow.advance(core, batch)
                for record in records.build(batch, events.tolist()):
                    sent.append(await self._send(producer, record))
            await asyncio.gather(*sent)  # every record acknowledged (acks=all)
            self.stats.records += len(sent)
            self.stats.published_seq = core.last_seq
            if time.monotonic() - checkpointed >= self.config.checkpoint_s:
                await self._checkpoint(producer, core.last_seq)
                checkpointed = time.monotonic()

    def _rebuild(self, seq: int) -> tuple[Any, Records]:
        """The publisher's core at ``seq``; the minute bars warmed over the commands
        replayed from the snapshot on (a bar that began before those is incomplete)."""
        self.follower.restart()
        replayed: list[list[list[int]]] = []
        core = shadow.core_at(self.data_dir, seq, self.core_config,
                              lambda events: replayed.append(events.tolist()))
        first = next((rows[0][E_TS] for rows in replayed if rows), None)
        records = Records(core, started_ts=0 if seq == 0 else first if first is not None
                          else -1)
        for rows in replayed:
            records.warm(rows)
        self.stats.rebuilds += 1
        return core, records

    async def _send(self, producer: AIOKafkaProducer, record: Record) -> asyncio.Future[Any]:
        message = record.message
        headers = [("gw-seq", str(record.seq).encode()),
                   ("gw-index", str(record.index).encode()),
                   ("gw-schema", f"{_tag(message)}/{message.v}".encode())]
        return await producer.send(self.config.topic(record.topic), self._encode(message),
                                   key=record.key.encode(), headers=headers)

    async def _checkpoint(self, producer: AIOKafkaProducer, seq: int) -> None:
        await producer.send_and_wait(self.config.topic(CHECKPOINT_TOPIC),
                                     msgspec.json.encode({"seq": seq}), key=CHECKPOINT_KEY)
        self.stats.checkpoint_seq = seq

    def status(self) -> dict[str, object]:
        s = self.stats
        return {"published_seq": s.published_seq, "checkpoint_seq": s.checkpoint_seq,
                "head_seq": s.head_seq, "lag": s.lag, "records": s.records,
                "connected": s.connected, "rebuilds": s.rebuilds, "failures": s.failures,
                "last_error": s.last_error, "queued": self.follower.queued,
                "from_journal": self.follower.from_journal}


def topic_names(config: KafkaConfig) -> list[str]:
    return sorted({config.topic(t) for t in schemas.TOPICS.values()})


async def ensure_topics(config: KafkaConfig) -> None:
    """Create the topics that are missing (the checkpoint topic with one partition)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name, config.partitions, 1) for name in topic_names(config)
                  if name not in existing]
        checkpoint = config.topic(CHECKPOINT_TOPIC)
        if checkpoint not in existing:
            wanted.append(NewTopic(checkpoint, 1, 1))
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()


async def read_checkpoint(config: KafkaConfig) -> int:
    """The last sequence number whose records are all acknowledged (0: none yet)."""
    partition = TopicPartition(config.topic(CHECKPOINT_TOPIC), 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=config.bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        if end == 0:
            return 0
        consumer.seek(partition, end - 1)
        message = await asyncio.wait_for(consumer.getone(), 10)
        return int(msgspec.json.decode(message.value)["seq"])
    finally:
        await consumer.stop()


class Deduplicator:
    """What a consumer keeps of the records it reads: each (topic, seq, index) once, the
    first time; a record at or below the newest one seen on its partition is a duplicate
    (a publisher that restarted sends what followed its checkpoint again, in order)."""

    def __init__(self) -> None:
        self._newest: dict[tuple[str, int], tuple[int, int]] = {}
        self.dropped = 0

    def fresh(self, topic: str, partition: int, headers: Iterable[tuple[str, bytes]]) -> bool:
        fields = dict(headers)
        name = (int(fields["gw-seq"]), int(fields["gw-index"]))
        where = (topic, partition)
        newest = self._newest.get(where)
        if newest is not None and name <= newest:
            self.dropped += 1
            return False
        self._newest[where] = name
        return True


def _tag(message: schemas.Message) -> str:
    return type(message).__struct_config__.tag  # type: ignore[attr-defined, no-any-return]


async def _quietly(awaitable: Any) -> None:
    try:
        await awaitable
    except Exception:  # closing a producer whose broker is gone
        log.debug("kafka producer did not close cleanly", exc_info=True)
