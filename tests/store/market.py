"""A real node trading a seeded random flow, with a projector into a real PostgreSQL: the
harness of the store tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from engine.instruments import demo_instruments
from engine.layout import E_KIND, EV_TRADED
from gridworks.admin import Admin
from gridworks.config import NodeConfig, core_config
from gridworks.node import Node
from store.migrate import migrate
from store.projector import Projector
from tests.engine.flow import Flow

ACCOUNTS = 6
FUNDS = 50_00_000_00  # fifty lakh rupees each, in paise


@dataclass
class Market:
    node: Node
    flow: Flow
    trades: int = 0

    async def run(self, commands: int, chunk: int = 100) -> None:
        assert self.node.core is not None
        for _ in range(commands // chunk):
            batch = list(self.flow.commands(chunk, self.node.core.last_seq + 1))
            receipt = await self.node.submit(batch)
            self.trades += int((receipt.events[:, E_KIND] == EV_TRADED).sum())

    async def project(self, dsn: str, commands: int) -> Projector:
        """Trade ``commands`` with a projector following, until it has caught up."""
        projector = self.projector(dsn)
        task = await running(projector)
        try:
            await self.run(commands)
            await caught_up(projector, self.node)
        finally:
            await stop(task)
        return projector

    def projector(self, dsn: str, **options: object) -> Projector:
        assert self.node.core is not None
        projector = Projector(self.node.config.data_dir, core_config(self.node.config), dsn,
                              durable_seq=self.node.core.last_seq, **options)  # type: ignore[arg-type]
        self.node.listeners.append(projector.feed)
        return projector


@pytest.fixture
async def market(tmp_path: Path, pg_dsn: str) -> AsyncIterator[Market]:
    config = NodeConfig(data_dir=tmp_path / "data", max_orders=4096, max_accounts=64,
                        fsync="os", square_off_at="", end_of_day_at="", mark_interval_ms=-1,
                        demo_accounts=False, snapshot_every=700)
    node = Node(config)
    await node.start()
    conn = await asyncpg.connect(pg_dsn)
    await migrate(conn)
    await conn.close()
    admin = Admin(node, node.kek)
    for name in ("asha", "ravi"):
        account, _ = await admin.create_account(name, FUNDS)
        await admin.set_user(f"{name}.user", account, "trader", "a long enough password")
    flow = Flow(11, specs=tuple(demo_instruments()[:2]), accounts=ACCOUNTS, account_commands=True)
    await node.submit(flow.setup(funds=FUNDS))
    try:
        yield Market(node, flow)
    finally:
        await node.stop()


async def caught_up(projector: Projector, node: Node, timeout: float = 60) -> None:
    assert node.core is not None
    deadline = asyncio.get_running_loop().time() + timeout
    while projector.stats.projected_seq != node.core.last_seq:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"projector stuck at {projector.status()}, "
                                 f"the core is at {node.core.last_seq}")
        await asyncio.sleep(0.05)


async def running(projector: Projector) -> asyncio.Task[None]:
    return asyncio.create_task(projector.run())


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
