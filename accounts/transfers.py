"""Moving an account's money between cluster shards: a saga of idempotent steps.

Each shard holds the funds allocated to it. A transfer is

    1. debit   — Withdraw on the paying shard (refused: the transfer failed, nothing moved)
    2. credit  — Deposit on the receiving shard
    3. refund  — Deposit back on the paying shard, only if the credit was refused

Every step is a request in the transfer's own name (`Transfer.requester`, which spells the
whole transfer out) numbered by the step, so:

* the steps' outcomes are in the shards' logs, and anyone who reads the logs knows where
  every transfer stands — the desk that runs them keeps nothing else;
* a step sent again (by a desk that restarted and cannot know whether it had sent it) is
  applied once: the log leaves out a request whose number its requester already had applied;
* a step waiting for a shard that is down stays in Kafka and is applied when the shard is
  back; until then the amount is *in transit*, counted by `Progress.in_transit`, so money is
  conserved at every moment: what the shards hold plus what is in transit.

This module is the rule alone (no I/O); `gridworks.transfers` runs it against the logs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

import msgspec

from engine.commands import Command, Deposit, Withdraw

PREFIX = "transfer:"
TRANSFER_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


class Step(IntEnum):
    DEBIT = 1
    CREDIT = 2
    REFUND = 3


class Status(StrEnum):
    DEBITING = "debiting"
    CREDITING = "crediting"
    DONE = "done"
    FAILED = "failed"  # the debit was refused: nothing moved
    REFUNDING = "refunding"
    REFUNDED = "refunded"  # the credit was refused and the debit given back
    STUCK = "stuck"  # the refund itself was refused: an operator must look


FINAL = {Status.DONE, Status.FAILED, Status.REFUNDED, Status.STUCK}


class Transfer(msgspec.Struct, frozen=True):
    id: str  # the client's idempotency key
    from_shard: int
    from_account: int
    to_shard: int
    to_account: int
    amount: int  # paise, > 0

    def __post_init__(self) -> None:
        if not TRANSFER_ID.fullmatch(self.id):
            raise ValueError("a transfer id is 1 to 40 letters, digits, '-' or '_'")
        if self.amount <= 0:
            raise ValueError("a transfer moves a positive amount")
        if self.from_shard == self.to_shard:
            raise ValueError("a transfer goes between two different shards")

    @property
    def requester(self) -> str:
        return (f"{PREFIX}{self.id}:{self.from_shard}:{self.from_account}:{self.to_shard}:"
                f"{self.to_account}:{self.amount}")


def parse_requester(name: str) -> Transfer | None:
    """The transfer a requester name spells, or None for any other requester."""
    if not name.startswith(PREFIX):
        return None
    try:
        tid, *numbers = name[len(PREFIX):].split(":")
        a, b, c, d, amount = (int(n) for n in numbers)
        return Transfer(tid, a, b, c, d, amount)
    except ValueError:
        return None


@dataclass(frozen=True)
class Action:
    step: Step
    shard: int
    command: Command


@dataclass
class Progress:
    transfer: Transfer
    outcomes: dict[Step, bool] = field(default_factory=dict)  # applied step -> accepted

    @property
    def status(self) -> Status:
        o = self.outcomes
        if Step.DEBIT not in o:
            return Status.DEBITING
        if not o[Step.DEBIT]:
            return Status.FAILED
        if Step.CREDIT not in o:
            return Status.CREDITING
        if o[Step.CREDIT]:
            return Status.DONE
        if Step.REFUND not in o:
            return Status.REFUNDING
        return Status.REFUNDED if o[Step.REFUND] else Status.STUCK

    @property
    def in_transit(self) -> int:
        """Money debited on one shard and on none yet (credited or refunded)."""
        status = self.status
        return self.transfer.amount if status in (Status.CREDITING, Status.REFUNDING) else 0

    def next_action(self) -> Action | None:
        t = self.transfer
        status = self.status
        if status == Status.DEBITING:
            return Action(Step.DEBIT, t.from_shard, Withdraw(t.from_account, t.amount))
        if status == Status.CREDITING:
            return Action(Step.CREDIT, t.to_shard, Deposit(t.to_account, t.amount))
        if status == Status.REFUNDING:
            return Action(Step.REFUND, t.from_shard, Deposit(t.from_account, t.amount))
        return None

    def record(self, step: Step, accepted: bool) -> None:
        """A step's outcome, read from its shard's log (the first one counts)."""
        self.outcomes.setdefault(step, accepted)
