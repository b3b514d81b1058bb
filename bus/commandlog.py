"""A cluster shard's command log and request queue on Kafka (the rule is `engine.commandlog`).

Two topics, one partition per shard (partition K belongs to shard K):

* ``gridworks.commands`` — the log: one record per entry; the value is the entry's commands
  as one journal frame (`engine.journal.encode_frame`, checksummed; empty for a fence), the
  header ``gw-entry`` its `EntryMeta` (msgpack). Only the shard's leader appends.
* ``gridworks.requests`` — what gateways ask the shard to do: one record per request, the
  value a journal frame of unstamped commands, headers ``gw-gateway`` and ``gw-request``.
  The leader takes requests in offset order into log entries; a request is answered when
  a gateway reads the entry holding it back from the log.

Records are produced with ``acks=all`` and read by consumers only once the broker has them
on every in-sync replica, which is what "durable in the log" means here. A record that
cannot be decoded is the same bytes for every replica: the log skips it everywhere alike.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bus.kafka import KafkaConfig
from engine import journal
from engine.commandlog import EntryKind, EntryMeta, LogEntry
from engine.commands import CommandBatch

log = logging.getLogger("gridworks.commandlog")
COMMANDS_TOPIC = "gridworks.commands"
REQUESTS_TOPIC = "gridworks.requests"
ENTRY_HEADER = "gw-entry"
GATEWAY_HEADER = "gw-gateway"
REQUEST_HEADER = "gw-request"
UNREADABLE = EntryMeta(kind=EntryKind.COMMANDS, epoch=-1, ts=0)  # skipped by every replica

_encode_meta = msgspec.msgpack.encode
_decode_meta = msgspec.msgpack.Decoder(EntryMeta).decode


@dataclass(frozen=True)
class ShardLog:
    """Where one shard's log and requests live."""

    kafka: KafkaConfig
    shard: int = 0
    shards: int = 1
    fetch_wait_ms: int = 5  # a fetch's longest wait for new records (latency vs idle polls)

    @property
    def commands(self) -> TopicPartition:
        return TopicPartition(self.kafka.topic(COMMANDS_TOPIC), self.shard)

    @property
    def requests(self) -> TopicPartition:
        return TopicPartition(self.kafka.topic(REQUESTS_TOPIC), self.shard)

    def producer(self) -> AIOKafkaProducer:
        return AIOKafkaProducer(bootstrap_servers=self.kafka.bootstrap, acks="all",
                                enable_idempotence=self.kafka.idempotent, linger_ms=0,
                                max_request_size=16 * 1024 * 1024)

    def consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(bootstrap_servers=self.kafka.bootstrap,
                                enable_auto_commit=False, auto_offset_reset="earliest",
                                fetch_max_wait_ms=self.fetch_wait_ms,
                                max_partition_fetch_bytes=16 * 1024 * 1024)


async def ensure_topics(log_: ShardLog) -> None:
    """The log and requests topics, with a partition per shard, unless they exist (with
    replication 1: in production create them beforehand with the replication wanted)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=log_.kafka.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # The log is the shards' state: none of it may age out.
        retention = {COMMANDS_TOPIC: {"retention.ms": "-1"}, REQUESTS_TOPIC: {}}
        wanted = [NewTopic(log_.kafka.topic(name), log_.shards, 1, topic_configs=configs)
                  for name, configs in retention.items()
                  if log_.kafka.topic(name) not in existing]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
    finally:
        await admin.close()


# --- log entries -------------------------------------------------------------------------------

Headers = list[tuple[str, bytes]]


def entry_record(meta: EntryMeta, batch: CommandBatch | None) -> tuple[bytes, Headers]:
    value = journal.encode_frame(batch) if batch is not None and len(batch) else b""
    return value, [(ENTRY_HEADER, _encode_meta(meta))]


def decode_entry(offset: int, value: bytes | None,
                 headers: tuple[tuple[str, bytes], ...] | list[tuple[str, bytes]]) -> LogEntry:
    try:
        meta = _decode_meta(dict(headers)[ENTRY_HEADER])
        batch = journal.decode_frame(value) if value else None
    except (KeyError, msgspec.DecodeError, msgspec.ValidationError,
            journal.JournalCorruptError, ValueError):
        log.error("log entry at offset %d cannot be read; every replica skips it", offset)
        return LogEntry(offset, UNREADABLE, None)
    return LogEntry(offset, meta, batch)


# --- requests ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    offset: int
    gateway: str
    number: int
    batch: CommandBatch


def request_record(gateway: str, number: int, batch: CommandBatch) -> tuple[bytes, Headers]:
    return journal.encode_frame(batch), [(GATEWAY_HEADER, gateway.encode()),
                                         (REQUEST_HEADER, str(number).encode())]


def decode_requests(messages: list) -> Iterator[Request | int]:
    """Each message as a `Request`, or its offset alone when it cannot be read (it is then
    passed over, and its gateway answers its client that the outcome is unknown)."""
    for m in messages:
        try:
            fields = dict(m.headers or ())
            yield Request(m.offset, fields[GATEWAY_HEADER].decode(),
                          int(fields[REQUEST_HEADER]), journal.decode_frame(m.value or b""))
        except (KeyError, ValueError, UnicodeDecodeError, journal.JournalCorruptError):
            log.error("request at offset %d cannot be read; passed over", m.offset)
            yield m.offset
