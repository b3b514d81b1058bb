"""The transfer desk: runs cross-shard transfers (`accounts.transfers`) against the shards'
logs. It holds a replica of every shard it moves money between; as they read their logs it
learns every transfer's steps — its own and those of desks before it — so a desk that
starts (or restarts) picks up every unfinished transfer where the logs say it stands, and
sends its next step. A step is applied once however often it is sent."""

from __future__ import annotations

import asyncio
import logging
import time

import numpy as np

from accounts.transfers import FINAL, Progress, Step, Transfer, parse_requester
from bus.commandlog import ShardLog
from engine.commandlog import RequestRef
from engine.commands import CommandBatch
from engine.core import CoreConfig
from engine.layout import E_KIND, EV_REJECTED
from gridworks.replica import RequestWatcher
from gridworks.shard_links import ShardLinks

log = logging.getLogger("gridworks.transfers")
STEPS = {int(step) for step in Step}


class TransferConflictError(ValueError):
    """A transfer id was used before for a different transfer."""


class TransferDesk:
    def __init__(self, logs: dict[int, ShardLog], core_config: CoreConfig, *,
                 resend_s: float = 5.0) -> None:
        self.resend_s = resend_s
        self.links = ShardLinks(logs, core_config, "desk")
        self.replicas, self.senders = self.links.replicas, self.links.senders
        self.progress: dict[str, Progress] = {}
        self._sent: dict[tuple[str, Step], float] = {}  # by this desk, this run: when
        self._resending: asyncio.Task[None] | None = None
        self._changed = asyncio.Condition()
        self._running = False
        for replica in self.replicas.values():
            replica.watcher = self._watcher()

    async def start(self) -> None:
        """Read every shard's log, then resume the transfers left unfinished."""
        await self.links.start()
        self._running = True
        for progress in self.progress.values():
            self._advance(progress)
        self._resending = asyncio.create_task(self._resend(), name="desk-resend")

    async def stop(self) -> None:
        self._running = False
        if self._resending is not None:
            self._resending.cancel()
            await asyncio.gather(self._resending, return_exceptions=True)
        await self.links.stop()

    # --- transfers -----------------------------------------------------------------------------

    def transfer(self, transfer: Transfer) -> Progress:
        """Start ``transfer`` (or find it, if its id was seen: asking twice moves money once)."""
        for shard in (transfer.from_shard, transfer.to_shard):
            if shard not in self.replicas:
                raise ValueError(f"this desk does not reach shard {shard}")
        known = self.progress.get(transfer.id)
        if known is not None:
            if known.transfer != transfer:
                raise TransferConflictError(f"transfer {transfer.id!r} was another transfer")
            return known
        progress = self.progress[transfer.id] = Progress(transfer)
        self._advance(progress)
        return progress

    async def settled(self, transfer_id: str, timeout_s: float = 30.0) -> Progress:
        """The transfer once it is final (done, failed, refunded or stuck)."""
        async with asyncio.timeout(timeout_s), self._changed:
            await self._changed.wait_for(
                lambda: self.progress[transfer_id].status in FINAL)
        return self.progress[transfer_id]

    def in_transit(self) -> int:
        return sum(p.in_transit for p in self.progress.values())

    # --- following the logs --------------------------------------------------------------------

    def _watcher(self) -> RequestWatcher:
        def watch(ref: RequestRef, events: np.ndarray) -> None:
            transfer = parse_requester(ref.gateway)
            if transfer is None or ref.number not in STEPS:
                return
            progress = self.progress.setdefault(transfer.id, Progress(transfer))
            if progress.transfer != transfer:
                log.error("two transfers share the id %r; the later one is ignored", transfer.id)
                return
            refused = bool((events[:, E_KIND] == EV_REJECTED).any())
            progress.record(Step(ref.number), not refused)
            if self._running:
                self._advance(progress)
                asyncio.get_running_loop().create_task(self._notify())
        return watch

    def _advance(self, progress: Progress) -> None:
        action = progress.next_action()
        if action is None:
            return
        key = (progress.transfer.id, action.step)
        if key in self._sent:
            return
        self._sent[key] = time.monotonic()
        self.senders[action.shard].send_as(progress.transfer.requester, int(action.step),
                                           CommandBatch.of([action.command]))

    async def _resend(self) -> None:
        """Send again a step whose outcome has not appeared for a while (its send may have
        failed); the log applies it once."""
        while True:
            await asyncio.sleep(self.resend_s / 2)
            stale = time.monotonic() - self.resend_s
            for key, at in list(self._sent.items()):
                if at < stale:
                    del self._sent[key]
                    self._advance(self.progress[key[0]])

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()
