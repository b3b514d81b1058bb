"""Scenario ``projector``: how many commands a second the PostgreSQL projector turns into
history rows.

A data directory is journaled first, without the projector: the standard stream (limit
orders, cancels and IOC sweeps of 1,000 funded accounts in one instrument) behind the setup
it needs, through a real core and journal writer. Then a projector starts at seq 0 on a
fresh database and reads the whole journal back, as it does after a restart or an outage:
reported are commands/s and rows/s written. That rate bounds the flow it can follow live:
below it the lag stays within one transaction (at most 20,000 commands); above it the lag
grows by the difference every second.

The goal from the issue: keep up with 50,000 orders/s.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import numpy as np

from engine import journal
from engine.commands import AddInstrument, CommandBatch, Deposit, SetLimits
from engine.core import Core, CoreConfig
from engine.layout import C_OID, C_SEQ
from engine.recovery import journal_dir
from engine.sequencer import CountingClock, Sequencer
from perf.streams import BENCH_SPEC, CACHE, FIRST_SEQ, TS0, standard_stream
from store.migrate import migrate
from store.projector import Projector

ACCOUNTS = 1_000
FUNDS = 10**13
RATE = 50_000
SERVER = os.environ.get("GRIDWORKS_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
CONFIG = CoreConfig(max_orders=1 << 17, max_accounts=ACCOUNTS + 8, max_instruments=8)


def setup_batch() -> CommandBatch:
    commands = [AddInstrument(BENCH_SPEC)]
    commands += [Deposit(a, FUNDS) for a in range(ACCOUNTS)]
    commands += [SetLimits(a, rate_per_s=0) for a in range(ACCOUNTS)]
    return Sequencer(1, CountingClock(start=TS0 - 10**9, step=1)).stamp(CommandBatch.of(commands))


def shifted_stream(n: int, after: int) -> np.ndarray:
    """The standard stream renumbered to follow ``after`` commands (order ids are seqs)."""
    rows = standard_stream(n).copy()
    shift = after + 1 - FIRST_SEQ
    rows[:, C_SEQ] += shift
    rows[rows[:, C_OID] > 0, C_OID] += shift
    return rows


def write_journal(data: Path, n: int) -> int:
    """Setup and ``n`` stream commands, applied and journaled in batches of 256."""
    core = Core(CONFIG)
    writer = journal.JournalWriter(journal_dir(data), 1, policy="os")
    setup = setup_batch()
    core.apply(setup, keep_events=False)
    writer.append(setup)
    rows = shifted_stream(n, setup.last_seq)
    for start in range(0, len(rows), 256):
        batch = CommandBatch(rows[start:start + 256], [None] * len(rows[start:start + 256]))
        core.apply(batch, keep_events=False)
        writer.append(batch)
        writer.flush()
    writer.close()
    return core.last_seq


async def fresh_database() -> str:
    name = f"gw_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    conn = await asyncpg.connect(f"{SERVER}/{name}")
    await migrate(conn)
    await conn.close()
    return name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


async def catch_up(data: Path, last: int) -> dict[str, object]:
    name = await fresh_database()
    try:
        projector = Projector(data, CONFIG, f"{SERVER}/{name}", durable_seq=last)
        started = time.perf_counter()
        task = asyncio.create_task(projector.run())
        while projector.stats.projected_seq < last:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - started
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        conn = await asyncpg.connect(f"{SERVER}/{name}")
        counts = {t: await conn.fetchval(f"SELECT count(*) FROM trading.{t}")
                  for t in ("orders", "order_events", "fills", "ledger_entries",
                            "position_snapshots")}
        await conn.close()
    finally:
        await drop_database(name)
    return {"commands": last, "seconds": round(elapsed, 2),
            "commands_per_s": round(last / elapsed), "rows_per_s": round(sum(counts.values())
                                                                          / elapsed),
            "rows": counts, "transactions": projector.stats.transactions,
            "seconds_applying": round(projector.stats.apply_seconds, 2),
            "seconds_writing": round(projector.stats.write_seconds, 2)}


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    n = ops or 200_000
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="projector-", dir=CACHE))
    try:
        last = write_journal(work / "journaled", n)
        caught = asyncio.run(catch_up(work / "journaled", last))
        return {"catch_up": caught, "goal_commands_per_s": RATE,
                "goal_met": bool(caught["commands_per_s"] >= RATE)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
