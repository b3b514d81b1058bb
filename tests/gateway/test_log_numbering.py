"""Channels numbered by the log: two gateways reading the same shard log number every
channel alike and keep the same messages, whoever subscribed to what and when on either,
so a client that saw a message on one can resume after it on the other. Driven without
I/O: each gateway's core applies the same log entries by the log rule, as replicas do."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.commandlog import EntryKind, EntryMeta, LogApplier, LogEntry
from engine.commands import Cancel, CommandBatch, CreateAccount, Deposit, NewOrder
from engine.core import Core, CoreConfig
from engine.types import Side
from gateway.feeds import Published
from gateway.server import Gateway, GatewayConfig, log_epoch
from gridworks.node import bootstrap_commands

CONFIG = CoreConfig(max_orders=4096, max_accounts=16, initial_levels=1024, max_positions=1024)
ACCOUNTS = 3
KEK = bytes(32)
T0 = 1_800_000_000_000_000_000


class ShardCopy:
    """A replica's core, fed entries by the log rule; what a gateway needs of a node."""

    def __init__(self) -> None:
        self.core: Core | None = Core(CONFIG)
        self.applier = LogApplier()
        self.listeners: list[Callable[[CommandBatch, np.ndarray], None]] = []

    backlog = 0

    def enqueue(self, commands: list) -> asyncio.Future:
        raise AssertionError("nothing is sent in this test")

    def status(self) -> dict[str, object]:
        return {}

    def apply(self, entry: LogEntry) -> None:
        admitted = self.applier.admit(entry)
        if admitted is None:
            return
        assert self.core is not None
        events = self.core.apply(admitted.batch)
        for listener in self.listeners:
            listener(admitted.batch, events)


class Seen:
    """A subscriber: the messages a connection would have been sent."""

    def __init__(self) -> None:
        self.messages: list[Published] = []

    def deliver(self, message: Published, public: bool) -> None:
        self.messages.append(message)


def log_of(orders: list[tuple[int, bool, int, int]]) -> list[LogEntry]:
    """A fence, the market and three funded accounts, then the orders (account, buy?, qty,
    price step; a step of 0 cancels the account's last order), a few per entry."""
    setup = (bootstrap_commands(open_market=True)
             + [CreateAccount(f"a{i}") for i in range(ACCOUNTS)]
             + [Deposit(i, 100_000_000) for i in range(ACCOUNTS)])
    entries = [LogEntry(0, EntryMeta(EntryKind.FENCE, 1, T0, "leader"), None),
               LogEntry(1, EntryMeta(EntryKind.COMMANDS, 1, T0, "leader"),
                        CommandBatch.of(setup))]
    commands: list = []
    for n, (account, buy, qty, step) in enumerate(orders):
        if step == 0:
            commands.append(Cancel(account=account, client_order_id=f"o{n - 1}"))
        else:
            commands.append(NewOrder(account=account, instrument=0,
                                     side=Side.BUY if buy else Side.SELL, qty=qty,
                                     price=141_000 + (step - 3) * 5,
                                     client_order_id=f"o{n}"))
        if len(commands) == 3 or n == len(orders) - 1:
            offset = len(entries)
            entries.append(LogEntry(offset, EntryMeta(EntryKind.COMMANDS, 1,
                                                      T0 + offset * 1_000_000, "leader"),
                                    CommandBatch.of(commands)))
            commands = []
    return entries


def gateway_over(copy: ShardCopy) -> Gateway:
    gateway = Gateway(copy, KEK, GatewayConfig(numbered_by_log=True, shard=3))  # type: ignore[arg-type]
    gateway.follow()
    return gateway


def data(message: Published) -> bytes:
    return msgspec.json.encode(message.data)


orders = st.lists(st.tuples(st.integers(0, ACCOUNTS - 1), st.booleans(), st.integers(1, 4),
                            st.integers(0, 6)), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(orders, st.randoms(use_true_random=False))
def test_two_gateways_number_every_channel_alike(plan: list, rng: random.Random) -> None:
    first, second = ShardCopy(), ShardCopy()
    watched, quiet = gateway_over(first), gateway_over(second)
    entries = log_of(plan)
    seen: dict[str, Seen] = {}
    names = [f"{name}@{a}" for name in ("orders", "fills", "funds", "positions")
             for a in range(ACCOUNTS)]
    for entry in entries:
        first.apply(entry)
        second.apply(entry)
        if entry.batch is not None and rng.random() < 0.3:  # a client subscribes there now
            key = rng.choice(names)
            name, _, account = key.partition("@")
            channel = watched.feeds.private(name, int(account))
            if key not in seen:
                seen[key] = Seen()
                channel.subscribers.add(seen[key])
    assert watched.epoch == quiet.epoch == log_epoch(T0, 3)
    for key, channel in watched.feeds.channels.items():
        other = quiet.feeds.channels.get(key)
        assert other is not None or channel.seq == 0, key
        if other is None:
            continue
        assert other.seq == channel.seq, key
        if key.startswith(("orders@", "fills@")):  # never conflated: the same messages kept
            assert [(m.seq, data(m)) for m in other.ring] == [
                (m.seq, data(m)) for m in channel.ring], key
    for key, subscriber in seen.items():  # a resume on the quiet gateway after any of them
        if not key.startswith(("orders@", "fills@")) or not subscriber.messages:
            continue
        cut = rng.randrange(len(subscriber.messages))
        after = quiet.feeds.channels[key].since(subscriber.messages[cut].seq)
        assert after is not None
        assert [(m.seq, data(m)) for m in after] == [
            (m.seq, data(m)) for m in subscriber.messages[cut + 1:]]


def test_a_gateway_that_did_not_read_the_log_from_its_start_keeps_its_own_epoch() -> None:
    """Started after the first entry (from a snapshot, say), its numbers are not the log's:
    its epoch is its own run's, so no resume point of another gateway is taken there."""
    entries = log_of([(0, True, 1, 3), (1, False, 1, 3)])
    late = ShardCopy()
    late.apply(entries[0])
    late.apply(entries[1])
    gateway = gateway_over(late)
    for entry in entries[2:]:
        late.apply(entry)
    assert gateway.epoch != log_epoch(T0, 3)
    assert gateway.feeds.channels["orders@0"].seq >= 1
