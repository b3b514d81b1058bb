"""The PostgreSQL projector: the core's history (orders, their state changes, fills, ledger
entries, position snapshots, accounts and keys) written to the ``trading`` and ``users``
schemas, following the core by sequence number.

Invariants:

* **Exactly once, in order.** Each transaction writes the rows of the commands
  ``last_seq + 1 .. N`` and moves ``trading.projection.last_seq`` from ``last_seq`` to ``N``;
  the move is conditional on ``last_seq`` being what the projector read, so two projectors,
  a crash between the write and the reply, or a replay can never write a range twice or skip
  one.
* **Trading never waits.** The node hands each durable batch to `feed`, which only appends
  to a bounded queue. If the database is down or slow the queue fills; past its bound it is
  dropped and the projector later reads the missing commands from the journal instead.
* **The same events as the node.** The projector runs its own copy of the core
  (`store.shadow`), rebuilt at ``last_seq`` from the newest snapshot at or below it and the
  journal, and applies every batch to it: the core is deterministic, so the events and the
  positions after each batch are the node's own. After any failure it rebuilds and carries on
  from what the database says it has.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from engine.commands import CommandBatch
from engine.core import Core, CoreConfig
from engine.follower import Follower
from portfolio.views import average_price
from store import shadow
from store.migrate import pending
from store.rows import (
    ACCOUNT_COLUMNS,
    FILL_COLUMNS,
    KEY_COLUMNS,
    LEDGER_COLUMNS,
    ORDER_COLUMNS,
    ORDER_EVENT_COLUMNS,
    POSITION_COLUMNS,
    USER_COLUMNS,
    Rows,
    Tracker,
)

log = logging.getLogger(__name__)

NAME = "trading"
CHUNK = 20_000  # commands per transaction at most
YIELD_EVERY = 2  # batches built between turns of the event loop
MAX_QUEUED = 500_000  # commands held for the projector before it falls back to the journal


@dataclass
class ProjectorStats:
    projected_seq: int = 0  # everything up to here is in the database
    transactions: int = 0
    commands: int = 0
    rows: int = 0
    rebuilds: int = 0
    failures: int = 0
    last_error: str = ""
    connected: bool = False
    apply_seconds: float = 0.0  # in the core and building rows
    write_seconds: float = 0.0  # in PostgreSQL

    head_seq: int = 0  # the newest durable seq the node reported (kept by the follower)
    from_journal: int = 0  # commands read back from the journal (after an overflow or a start)
    overflows: int = 0

    @property
    def lag(self) -> int:
        return max(0, self.head_seq - self.projected_seq)


class Projector:
    def __init__(self, data_dir: Path, core_config: CoreConfig, dsn: str, *,
                 durable_seq: int = 0, max_queued: int = MAX_QUEUED, chunk: int = CHUNK,
                 retry_s: tuple[float, float] = (0.1, 5.0),
                 connect: Callable[[str], object] | None = None) -> None:
        self.data_dir = data_dir
        self.core_config = core_config
        self.dsn = dsn
        self.retry_s = retry_s
        self._connect = connect or (lambda dsn: asyncpg.connect(dsn))
        self.stats = ProjectorStats(head_seq=durable_seq)
        self.follower = Follower(data_dir, durable_seq, max_queued, chunk)

    # --- the node's side ---------------------------------------------------------------------

    def feed(self, batch: CommandBatch, events: object = None) -> None:
        """A durable batch (a node listener): queued, never waited for."""
        self.follower.feed(batch)
        self._sync_stats()

    def _sync_stats(self) -> None:
        f, s = self.follower, self.stats
        s.head_seq, s.from_journal, s.overflows = f.head_seq, f.from_journal, f.overflows

    # --- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Project until cancelled; reconnect and rebuild after any failure."""
        delay = self.retry_s[0]
        while True:
            conn = None
            try:
                conn = await self._connect(self.dsn)
                self.stats.connected = True
                await self._project(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away, or refused a write
                self.stats.failures += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("projector: %s; retrying in %.1f s", self.stats.last_error, delay)
            finally:
                self.stats.connected = False
                if conn is not None:
                    await _close(conn)
            await asyncio.sleep(delay)
            delay = min(self.retry_s[1], delay * 2)

    async def _project(self, conn: asyncpg.Connection) -> None:
        missing = await pending(conn)
        if missing:
            raise RuntimeError("the database lacks migrations "
                               f"{[m.version for m in missing]}: run `gridworks db migrate`")
        last = await _projected(conn)
        core, tracker = await self._rebuild(conn, last)
        self.stats.projected_seq = last
        writing: asyncio.Task[None] | None = None  # the previous chunk, still being written
        try:
            while True:
                batches = await self.follower.next_batches(core.last_seq)
                self._sync_stats()
                if not batches:
                    if writing is not None:
                        await writing
                        writing = None
                    await self.follower.wait()
                    continue
                rows = Rows()
                for start in range(0, len(batches), YIELD_EVERY):
                    started = time.perf_counter()
                    for batch in batches[start:start + YIELD_EVERY]:
                        tracker.add(rows, core, batch, shadow.advance(core, batch))
                    self.stats.apply_seconds += time.perf_counter() - started
                    await asyncio.sleep(0)  # the previous chunk's COPY streams meanwhile
                if writing is not None:  # one transaction at a time, in order
                    await writing
                writing = asyncio.create_task(self._write(conn, rows, last, core.last_seq))
                last = core.last_seq
        finally:
            if writing is not None and not writing.done():
                writing.cancel()
                await asyncio.gather(writing, return_exceptions=True)

    async def _write(self, conn: asyncpg.Connection, rows: Rows, last: int,
                     new_last: int) -> None:
        """Write one chunk (while the next is being built) and count it."""
        started = time.perf_counter()
        await _write(conn, rows, last, new_last)
        self.stats.write_seconds += time.perf_counter() - started
        self.stats.transactions += 1
        self.stats.commands += new_last - last
        self.stats.rows += rows.count()
        self.stats.projected_seq = new_last

    async def _rebuild(self, conn: asyncpg.Connection, seq: int) -> tuple[Core, Tracker]:
        """The projector's core at ``seq``, and order tracking that knows the average price
        of orders still open then (from their fills in the database)."""
        self.follower.restart()
        core = await asyncio.to_thread(shadow.core_at, self.data_dir, seq, self.core_config)
        tracker = Tracker(core)
        feeds = tracker.feeds
        if feeds.live:
            traded = await conn.fetch(
                "SELECT order_id, sum(qty * price)::bigint AS value FROM trading.fills "
                "WHERE order_id = ANY($1::bigint[]) GROUP BY order_id", list(feeds.live))
            for row in traded:
                order = feeds.live[row["order_id"]]
                feeds._cost[order.order_id] = row["value"]
                order.average_price = average_price(order.filled, row["value"])
        self.stats.rebuilds += 1
        return core, tracker

    def status(self) -> dict[str, object]:
        s = self.stats
        return {"projected_seq": s.projected_seq, "head_seq": s.head_seq, "lag": s.lag,
                "connected": s.connected, "transactions": s.transactions, "rows": s.rows,
                "from_journal": s.from_journal, "overflows": s.overflows,
                "rebuilds": s.rebuilds, "failures": s.failures, "last_error": s.last_error,
                "queued": self.follower.queued}


async def _projected(conn: asyncpg.Connection) -> int:
    await conn.execute("INSERT INTO trading.projection (name) VALUES ($1) "
                       "ON CONFLICT (name) DO NOTHING", NAME)
    return int(await conn.fetchval("SELECT last_seq FROM trading.projection WHERE name = $1",
                                   NAME))


class ProjectionMovedError(RuntimeError):
    """The database's projection is not where this projector left it (another projector)."""


async def _write(conn: asyncpg.Connection, rows: Rows, last: int, new_last: int) -> None:
    """One transaction: the rows of ``last + 1 .. new_last`` and the projection's move."""
    async with conn.transaction():
        # Not waiting for the commit's flush is safe here: a commit that a database crash
        # loses takes the projection's move with it, and the rows are projected again from
        # the journal; it saves a disk flush per transaction.
        await conn.execute("SET LOCAL synchronous_commit = off")
        moved = await conn.execute(
            "UPDATE trading.projection SET last_seq = $1, updated_at = now() "
            "WHERE name = $2 AND last_seq = $3", new_last, NAME, last)
        if moved != "UPDATE 1":
            raise ProjectionMovedError(f"the projection is not at seq {last} any more")
        await _copy(conn, "order_events", ORDER_EVENT_COLUMNS, rows.order_events)
        await _copy(conn, "fills", FILL_COLUMNS, rows.fills)
        await _copy(conn, "ledger_entries", LEDGER_COLUMNS, rows.ledger)
        await _copy(conn, "position_snapshots", POSITION_COLUMNS, rows.positions)
        placed, changed = rows.new_and_changed_orders()
        await _copy(conn, "orders", ORDER_COLUMNS, placed)
        if changed:
            await _upsert(conn, "trading", "orders", ORDER_COLUMNS, ("account", "order_id"),
                          changed)
        if rows.accounts:
            await _upsert(conn, "users", "accounts", ACCOUNT_COLUMNS, ("account",),
                          list(rows.accounts.values()))
        if rows.keys:
            await _upsert(conn, "users", "api_keys", KEY_COLUMNS, ("account", "key_number"),
                          list(rows.keys.values()))
        if rows.users:
            await _upsert(conn, "users", "users", USER_COLUMNS, ("username",),
                          list(rows.users.values()))


async def _copy(conn: asyncpg.Connection, table: str, columns: tuple[str, ...],
                records: list[tuple]) -> None:
    if records:
        await conn.copy_records_to_table(table, records=records, columns=columns,
                                         schema_name="trading")


async def _upsert(conn: asyncpg.Connection, schema: str, table: str, columns: tuple[str, ...],
                  key: tuple[str, ...], records: list[tuple]) -> None:
    """Insert or replace rows by key: copied into a temporary stage, then merged."""
    stage = f"{table}_stage"
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} "
                       f"(LIKE {schema}.{table}) ON COMMIT DELETE ROWS")
    await conn.copy_records_to_table(stage, records=records, columns=columns)
    names = ", ".join(columns)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c not in key)
    await conn.execute(f"INSERT INTO {schema}.{table} ({names}) SELECT {names} FROM {stage} "
                       f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")


async def _close(conn: asyncpg.Connection) -> None:
    try:
        await asyncio.wait_for(conn.close(), 2)
    except Exception:
        conn.terminate()
