"""The command log's fencing rule, without any I/O: whatever leaders write in whatever
interleaving, an entry is applied exactly when no newer fence precedes it; replicas that
read the same log agree; and a log with deposed leaders' writes gives the same state as the
log with those writes removed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bus.commandlog import decode_entry, entry_record
from engine import events as ev
from engine.commandlog import (
    EntryKind,
    EntryMeta,
    LogApplier,
    LogEntry,
    LogOrderError,
    RequestRef,
    request_bounds,
)
from engine.commands import CommandBatch, CreateAccount, Deposit, NewOrder
from engine.core import Core, CoreConfig
from engine.sequencer import order_shard, shard_order_ids
from engine.types import Side
from gridworks.node import bootstrap_commands

CONFIG = CoreConfig(max_orders=1024, max_accounts=16, initial_levels=1024, max_positions=1024)


@dataclass(frozen=True)
class Write:
    """Leader ``leader`` appends: a fence (its first write) or ``n`` commands."""

    leader: int
    fence: bool
    n: int = 1


writes = st.lists(st.builds(Write, st.integers(0, 3), st.booleans(), st.integers(1, 4)),
                  min_size=1, max_size=40)


def build_log(plan: list[Write]) -> list[LogEntry]:
    """Leader k has epoch k + 1; entries are numbered by offset; the first entry sets the
    market up so that the commands have something to act on."""
    entries = [LogEntry(0, EntryMeta(EntryKind.FENCE, 1, 10, "w0"), None),
               LogEntry(1, EntryMeta(EntryKind.COMMANDS, 1, 10, "w0"), CommandBatch.of(
                   bootstrap_commands(open_market=True)
                   + [CreateAccount(f"a{i}") for i in range(3)]
                   + [Deposit(i, 10_000_000) for i in range(3)]))]
    counter = 0
    for w in plan:
        epoch = w.leader + 1
        offset = len(entries)
        if w.fence:
            entries.append(LogEntry(offset, EntryMeta(EntryKind.FENCE, epoch, offset * 10,
                                                      f"w{w.leader}"), None))
            continue
        commands = []
        for _ in range(w.n):
            counter += 1
            commands.append(NewOrder(account=counter % 3, instrument=0,
                                     side=Side.BUY if counter % 2 else Side.SELL,
                                     qty=1 + counter % 3, price=141_000 + (counter % 5) * 5,
                                     client_order_id=f"c{counter}"))
        entries.append(LogEntry(offset, EntryMeta(EntryKind.COMMANDS, epoch, offset * 10,
                                                  f"w{w.leader}"), CommandBatch.of(commands)))
    return entries


def copy(entry: LogEntry) -> LogEntry:
    """The entry as another replica reads it: through its encoding on the log."""
    value, headers = entry_record(entry.meta, entry.batch)
    return decode_entry(entry.offset, value, headers)


def replay(entries: list[LogEntry]) -> tuple[Core, LogApplier, list[int]]:
    core, applier, applied = Core(CONFIG), LogApplier(), []
    for entry in entries:
        admitted = applier.admit(copy(entry))
        if admitted is not None:
            core.apply(admitted.batch)
            applied.append(entry.offset)
    return core, applier, applied


def expected_applied(entries: list[LogEntry]) -> list[int]:
    """The reference: an entry counts unless a fence of a newer epoch came before it."""
    newest, out = 0, []
    for entry in entries:
        if entry.meta.kind == EntryKind.FENCE:
            newest = max(newest, entry.meta.epoch)
        elif entry.meta.epoch >= newest:
            newest = entry.meta.epoch
            out.append(entry.offset)
    return out


@settings(max_examples=40, deadline=None)
@given(writes)
def test_an_entry_counts_unless_a_newer_fence_precedes_it(plan: list[Write]) -> None:
    entries = build_log(plan)
    core, applier, applied = replay(entries)
    assert applied == expected_applied(entries)
    assert core.last_seq == sum(len(entries[o].batch) for o in applied)  # type: ignore[arg-type]
    assert applier.skipped == sum(1 for e in entries if e.meta.kind == EntryKind.COMMANDS) \
        - len(applied)


@settings(max_examples=30, deadline=None)
@given(writes)
def test_deposed_writes_change_nothing(plan: list[Write]) -> None:
    entries = build_log(plan)
    core, _, applied = replay(entries)
    kept = [e for e in entries if e.meta.kind == EntryKind.FENCE or e.offset in applied]
    renumbered = [LogEntry(i, e.meta, e.batch) for i, e in enumerate(kept)]
    clean, _, _ = replay(renumbered)
    assert clean.state_hash() == core.state_hash()
    again, _, _ = replay(entries)  # a second replica of the same log
    assert again.state_hash() == core.state_hash()


def test_time_never_goes_back_and_requests_are_located() -> None:
    applier = LogApplier()
    refs = (RequestRef("gw-1", 7, 2), RequestRef("gw-2", 1, 1))
    first = applier.admit(LogEntry(0, EntryMeta(EntryKind.COMMANDS, 1, 500, "a", refs, 41),
                                   CommandBatch.of([Deposit(0, 1)] * 3)))
    late = applier.admit(LogEntry(1, EntryMeta(EntryKind.COMMANDS, 1, 200, "a", (), -1),
                                  CommandBatch.of([Deposit(0, 1)])))
    assert first is not None
    assert late is not None
    assert first.batch.timestamps().tolist() == [500] * 3
    assert late.batch.timestamps().tolist() == [500]  # a clock behind the last entry's
    assert [(r.number, a, b) for r, a, b in request_bounds(first)] == [(7, 1, 2), (1, 3, 3)]
    assert applier.requests_hi == 41  # an entry without requests does not move it back
    with pytest.raises(LogOrderError):
        applier.admit(LogEntry(1, EntryMeta(EntryKind.FENCE, 2, 0, "b"), None))


def test_an_unreadable_record_is_skipped_alike_everywhere() -> None:
    value, headers = entry_record(EntryMeta(EntryKind.COMMANDS, 1, 0, "a"),
                                  CommandBatch.of([Deposit(0, 1)]))
    damaged = value[:-1] + bytes([value[-1] ^ 0xFF])
    entry = decode_entry(5, damaged, headers)
    assert entry.batch is None
    assert entry.meta.epoch == -1
    applier = LogApplier()
    assert applier.admit(entry) is None
    assert applier.skipped == 1
    assert applier.next_seq == 1
    assert decode_entry(6, value, [("other", b"")]).meta.epoch == -1


def test_a_request_sent_again_is_applied_once() -> None:
    applier = LogApplier()
    once = CommandBatch.of([Deposit(0, 5), Deposit(1, 7)])
    first = applier.admit(LogEntry(0, EntryMeta(EntryKind.COMMANDS, 1, 1, "a", (
        RequestRef("t:1", 1, 1), RequestRef("gw", 1, 1)), 3), once))
    assert first is not None
    assert len(first.batch) == 2
    again = CommandBatch.of([Deposit(0, 5), Deposit(1, 9), Deposit(2, 11)])
    second = applier.admit(LogEntry(1, EntryMeta(EntryKind.COMMANDS, 1, 2, "a", (
        RequestRef("t:1", 1, 1), RequestRef("gw", 2, 1), RequestRef("t:1", 2, 1)), 6), again))
    assert second is not None
    assert [c.amount for c in second.batch.commands()] == [9, 11]  # type: ignore[attr-defined]
    assert [(r.gateway, r.number) for r in second.refs] == [("gw", 2), ("t:1", 2)]
    assert second.batch.first_seq == 3
    assert applier.repeats == 1
    only_repeats = applier.admit(LogEntry(2, EntryMeta(EntryKind.COMMANDS, 1, 3, "a", (
        RequestRef("gw", 2, 1),), 9), CommandBatch.of([Deposit(1, 9)])))
    assert only_repeats is None
    assert applier.requests_hi == 9
    assert applier.next_seq == 5


def test_a_shard_s_order_ids_are_its_own() -> None:
    """Every replica of shard K numbers orders K * 10**12 + seq: ids unique in the cluster,
    and an order id names the shard to send its cancel to."""
    entries = build_log([Write(0, False, 3)])
    for shard in (0, 1, 7):
        applier, core = LogApplier(order_id_base=shard_order_ids(shard)), Core(CONFIG)
        accepted = []
        for entry in entries:
            admitted = applier.admit(copy(entry))
            if admitted is not None:
                accepted += [e.order_id for e in ev.decode(core.apply(admitted.batch))
                             if isinstance(e, ev.Accepted)]
        assert len(accepted) == 3
        assert all(order_shard(oid) == shard for oid in accepted)
        assert [oid - shard * 10**12 for oid in accepted] == list(
            range(core.last_seq - 2, core.last_seq + 1))
        restored = LogApplier.restored(applier.state(), shard_order_ids(shard))
        assert restored.state() == applier.state()
