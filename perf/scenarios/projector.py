"""Scenario ``projector``: how many commands a second the PostgreSQL projector turns into
history rows, and how far behind it stays at 50,000 commands a second.

A data directory is journaled first, without the projector: the standard stream (limit
orders, cancels and IOC sweeps of 1,000 funded accounts in one instrument) behind the setup
it needs, through a real core and journal writer. Then, each on a fresh database:

* ``catch_up``: a projector starts at seq 0 and reads the whole journal back, as it does
  after a restart or an outage: commands/s and rows/s written.
* ``live``: a projector that has projected the setup is handed the stream's batches as a
  node hands it durable ones, on a fixed schedule of 50,000 commands a second; its lag is
  sampled every 5 ms, in commands (durable but not yet in the database) and in time (how
  long ago the oldest of those was handed over).

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
from perf.stats import percentiles
from perf.streams import BENCH_SPEC, CACHE, FIRST_SEQ, TS0, standard_stream
from store import shadow
from store.migrate import migrate
from store.projector import Projector

ACCOUNTS = 1_000
FUNDS = 10**13
RATE = 50_000
SAMPLE_S = 0.005
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


def write_journal(data: Path, n: int) -> tuple[int, int]:
    """Setup and ``n`` stream commands, applied and journaled in batches of 256: the last
    seqs of the setup and of the stream."""
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
    return setup.last_seq, core.last_seq


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


async def follow_live(data: Path, setup_seq: int, last: int) -> dict[str, object]:
    batches = list(shadow.read_range(data, setup_seq, last))  # decoded before the clock runs
    name = await fresh_database()
    try:
        projector = Projector(data, CONFIG, f"{SERVER}/{name}", durable_seq=setup_seq)
        task = asyncio.create_task(projector.run())
        while projector.stats.projected_seq < setup_seq:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        start = time.perf_counter() + 0.05
        sampler = asyncio.create_task(_sample_lag(projector, setup_seq, last, start))
        for batch in batches:
            due = start + (batch.first_seq - setup_seq - 1) / RATE
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            projector.feed(batch)
        fed = time.perf_counter()
        lag_commands, lag_ms, sampled_at = await sampler
        drained = time.perf_counter() - fed
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    finally:
        await drop_database(name)
    return {"commands": last - setup_seq, "rate_per_s": RATE,
            "seconds_feeding": round(fed - start, 2),
            "lag_commands": percentiles(lag_commands), "lag_ms": percentiles(lag_ms),
            "lag_ms_max_per_second": _max_per_second(lag_ms, sampled_at - start),
            "drained_after_last_s": round(drained, 3),
            "transactions": projector.stats.transactions}


async def _sample_lag(projector: Projector, setup_seq: int, last: int,
                      start: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every `SAMPLE_S` until everything is projected: commands handed over but not in the
    database, how long ago the oldest of them was handed over (it was due then), and when
    the sample was taken."""
    commands: list[int] = []
    ages: list[float] = []
    times: list[float] = []
    while projector.stats.projected_seq < last:
        await asyncio.sleep(SAMPLE_S)
        now, stats = time.perf_counter(), projector.stats
        times.append(now)
        commands.append(stats.lag)
        oldest = stats.projected_seq + 1
        waiting = stats.lag > 0
        ages.append(max(0.0, now - (start + (oldest - setup_seq - 1) / RATE)) if waiting
                    else 0.0)
    return np.array(commands), np.array(ages) * 1e3, np.array(times)


def _max_per_second(values: np.ndarray, seconds: np.ndarray) -> list[float]:
    """The largest sample of each second from the start (is the lag bounded, or growing?)."""
    second = np.maximum(seconds, 0).astype(np.int64)
    return [round(float(values[second == s].max()), 1) for s in np.unique(second)]


def main(ops: int = 0, repeat: int = 1) -> dict[str, object]:
    n = ops or 200_000
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="projector-", dir=CACHE))
    try:
        setup_seq, last = write_journal(work / "journaled", n)
        caught = asyncio.run(catch_up(work / "journaled", last))
        live = asyncio.run(follow_live(work / "journaled", setup_seq, last))
        return {"catch_up": caught, "live": live, "goal_commands_per_s": RATE,
                "goal_met": bool(caught["commands_per_s"] >= RATE
                                 and live["drained_after_last_s"] < 1.0)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
