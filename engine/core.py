"""The deterministic core: sequenced command batches in, event rows out.

`Core.apply` is the whole state machine. It has no clock, no randomness, no I/O and no
asyncio: time arrives as a column of each command, ids derive from sequence numbers, and
every container iterates in a defined order, so the same batches always give the same
events byte for byte and the same `state_hash()`. The order book behind it is pluggable:
the numba `FastBook` in production, the plain `ReferenceBook` as the oracle in tests.

Per batch, in order:
1. Check the batch continues the sequence (a gap or repeat is a bug upstream: raise).
2. Pre-checks that need strings: a client order id already used by the account makes the
   NEW_ORDER row carry DUPLICATE_CLIENT_ORDER_ID (the book then rejects it, in sequence);
   a cancel or amend addressed by client order id gets the order id filled in.
3. Rows run in the book kernel in as few calls as possible; the rare instrument commands
   (ADD_INSTRUMENT, SET_REFERENCE) run here in Python between kernel calls.

A client order id is consumed by the first NEW_ORDER that carries it, accepted or not, so
a retried request can never execute twice and its original outcome can always be looked up.
"""

from __future__ import annotations

import bisect
import hashlib
from typing import Literal, Protocol

import msgspec
import numpy as np

from accounts.registry import REGISTRY_COMMANDS, Registry, RegistryImage
from accounts.registry import apply_command as apply_registry_command
from engine import instruments as instrument_rules
from engine.codes import RejectCode
from engine.commands import CommandBatch
from engine.events import event_row, rejection
from engine.instruments import InstrumentSpec
from engine.layout import (
    C_ACCT,
    C_INSTR,
    C_KIND,
    C_OID,
    C_PRECHECK,
    C_PRICE,
    C_SEQ,
    C_TS,
    CLOSED,
    EVENT_WIDTH,
    K_AMEND,
    K_CANCEL,
    K_NEW_ORDER,
)
from engine.refbook import ReferenceBook
from engine.snapshot_types import ORDER_FIELDS, BookState
from engine.types import CmdKind, EventKind, StpMode
from risk.commands import ACCOUNT_COMMANDS
from risk.reference import ReferenceRisk
from risk.state import (
    ACCOUNT_FIELDS,
    INSTRUMENT_FIELDS,
    LEDGER_FIELDS,
    POSITION_FIELDS,
    RiskState,
)
from risk.state import ORDER_FIELDS as RISK_ORDER_FIELDS

IMAGE_VERSION = 5
READABLE_IMAGE_VERSIONS = (4, 5)  # 4 kept the client order ids as triples
NO_EVENTS = np.zeros((0, EVENT_WIDTH), dtype=np.int64)
_PRECHECK_FIELDS = [C_KIND, C_ACCT, C_OID]


class SequenceError(RuntimeError):
    """A batch does not continue the core's sequence: never apply it."""


class CoreConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    max_orders: int = 262_144
    max_accounts: int = 100_000
    max_instruments: int = 1_024
    stp_default: StpMode = StpMode.CANCEL_INCOMING
    book: Literal["fast", "reference"] = "fast"
    initial_levels: int = 262_144
    risk: bool = True  # pre-trade risk, positions and ledger (off: a bare matching engine)
    max_positions: int = 262_144
    maintenance_bps: int = 5_000  # maintenance margin as a fraction of the margin held
    default_rate: int = 10  # orders per second per account until limits say otherwise
    # A cluster shard's order id base (engine.sequencer.shard_order_ids): the core's own
    # orders (square-off) are numbered inside the shard's ids too.
    order_id_base: int = 0


class Book(Protocol):
    def process(self, rows: np.ndarray, keep_events: bool = True) -> np.ndarray: ...
    def add_instrument(self, spec: InstrumentSpec) -> None: ...
    def rebase(self, instr: int, spec: InstrumentSpec) -> None: ...
    def has_orders(self, instr: int) -> bool: ...
    def phase(self, instr: int) -> int: ...
    def last_prices(self) -> list[int]: ...
    def state(self) -> BookState: ...
    def load(self, state: BookState) -> None: ...


class Risk(Protocol):
    def process(self, book: Book, rows: np.ndarray, keep_events: bool = True) -> np.ndarray: ...
    def add_instrument(self, spec: InstrumentSpec) -> None: ...
    def state(self) -> RiskState: ...
    def load(self, state: RiskState, book: Book) -> None: ...


def make_risk(config: CoreConfig) -> Risk | None:
    if not config.risk:
        return None
    args = (config.max_accounts, config.max_positions, config.maintenance_bps,
            config.default_rate)
    if config.book == "reference":
        return ReferenceRisk(*args)
    from risk.fast import FastRisk

    return FastRisk(*args, max_orders=config.max_orders,
                    max_instruments=config.max_instruments)


def make_book(config: CoreConfig) -> Book:
    if config.book == "reference":
        return ReferenceBook(config.max_orders, config.max_accounts, int(config.stp_default))
    from engine.fastbook.book import FastBook  # numba compiles on first import

    return FastBook(
        config.max_orders, config.max_accounts, int(config.stp_default),
        max_instruments=config.max_instruments, levels=config.initial_levels,
    )


class RiskImage(msgspec.Struct, frozen=True):
    """The account side of a snapshot: `RiskState` with its tables as bytes."""

    accounts: bytes
    positions: bytes
    orders: bytes
    instruments: bytes
    ledger: bytes
    global_kill: int
    next_synthetic: int
    closed_day: int
    intraday_closed: int

    @classmethod
    def of(cls, state: RiskState) -> RiskImage:
        return cls(*(_bytes(getattr(state, f)) for f in RISK_TABLES),
                   global_kill=state.global_kill, next_synthetic=state.next_synthetic,
                   closed_day=state.closed_day, intraday_closed=state.intraday_closed)

    def state(self) -> RiskState:
        widths = {"accounts": len(ACCOUNT_FIELDS), "positions": len(POSITION_FIELDS),
                  "orders": len(RISK_ORDER_FIELDS), "instruments": len(INSTRUMENT_FIELDS),
                  "ledger": len(LEDGER_FIELDS)}
        tables = {f: _table(getattr(self, f), widths[f]) for f in RISK_TABLES}
        tables["ledger"] = tables["ledger"].reshape(-1)
        return RiskState(**tables, global_kill=self.global_kill,
                         next_synthetic=self.next_synthetic, closed_day=self.closed_day,
                         intraday_closed=self.intraday_closed)


RISK_TABLES = ("accounts", "positions", "orders", "instruments", "ledger")


def _bytes(table: np.ndarray) -> bytes:
    return table.astype("<i8").tobytes()


def _table(data: bytes, width: int) -> np.ndarray:
    return np.frombuffer(data, dtype="<i8").astype(np.int64).reshape(-1, width)


class CoreImage(msgspec.Struct, frozen=True):
    """Everything needed to rebuild a core exactly: the content of a snapshot."""

    version: int
    last_seq: int
    config: CoreConfig
    specs: list[InstrumentSpec]
    orders: bytes
    instruments: bytes
    next_trade_id: int
    next_prio: int
    risk: RiskImage | None = None
    registry: RegistryImage | None = None
    # The client order ids in use: the keys (account, client order id) and the order ids of
    # the core's map, in the same order. Two plain copies of the map, taken while commits
    # wait, where one triple per id cost a tuple each (3 ms for 30,000 ids).
    client_keys: list[tuple[int, str]] = []
    client_order_ids: list[int] = []
    client_ids: list[tuple[int, str, int]] = []  # version 4: (account, id, order id) triples


class Core:
    def __init__(self, config: CoreConfig | None = None) -> None:
        self.config = config or CoreConfig()
        self.book: Book = make_book(self.config)
        self.risk: Risk | None = make_risk(self.config)
        self.specs: list[InstrumentSpec] = []
        self.symbols: dict[str, int] = {}
        self.client_ids: dict[tuple[int, str], int] = {}
        self.registry = Registry(self.config.max_accounts)
        self.last_seq = 0

    # --- applying commands -------------------------------------------------------------------

    def apply(self, batch: CommandBatch, keep_events: bool = True) -> np.ndarray:
        """Apply one sequenced batch; the event rows it caused, in order.

        With ``keep_events=False`` (replay) the events are not collected.
        """
        n = len(batch)
        if n == 0:
            return NO_EVENTS
        rows = batch.rows
        self._check_sequence(rows, n)
        with_ids, in_python = batch.marks
        if with_ids:
            rows = rows.copy()  # the pre-checks write into it; the journaled rows stay as sent
        if not in_python:
            self._precheck(rows, batch.extras, with_ids)
            events = self.process_rows(rows, keep_events)
        else:
            events = self._apply_mixed(rows, batch.extras, with_ids, in_python, keep_events)
        self.last_seq += n
        return events

    def _check_sequence(self, rows: np.ndarray, n: int) -> None:
        first, last = int(rows[0, C_SEQ]), int(rows[n - 1, C_SEQ])
        if first != self.last_seq + 1 or last != first + n - 1:
            raise SequenceError(
                f"batch holds seq {first}..{last}, core expects {self.last_seq + 1} "
                f"and {n} consecutive numbers"
            )

    def _precheck(self, rows: np.ndarray, extras: list, with_ids: list[int]) -> None:
        if not with_ids:
            return
        ids = self.client_ids
        # The fields needed read once as Python ints, a column at a time: indexing the array
        # per field costs more than the lookups themselves, and fancy indexing of the rows
        # (4 us for one row here) more than three column slices (1 us).
        lo = with_ids[0]  # ascending: only the span they cover is read
        span = rows[lo:with_ids[-1] + 1]
        kinds, accounts, order_ids = (span[:, column].tolist() for column in _PRECHECK_FIELDS)
        for i in with_ids:
            kind, order_id = kinds[i - lo], order_ids[i - lo]
            key = (accounts[i - lo], extras[i])
            if kind == K_NEW_ORDER:
                if key in ids:
                    rows[i, C_PRECHECK] = RejectCode.DUPLICATE_CLIENT_ORDER_ID
                else:
                    ids[key] = order_id
            elif kind in (K_CANCEL, K_AMEND) and order_id == 0:
                rows[i, C_OID] = ids.get(key, 0)

    def _apply_mixed(
        self, rows: np.ndarray, extras: list, with_ids: list[int], python_rows: list[int],
        keep_events: bool,
    ) -> np.ndarray:
        """Kernel runs between the Python commands, each run's client order ids looked up
        just before it: a Python command (the end of the day) may change them."""
        parts: list[np.ndarray] = []
        start = 0
        for end in [*python_rows, len(rows)]:
            if end > start:
                lo, hi = bisect.bisect_left(with_ids, start), bisect.bisect_left(with_ids, end)
                self._precheck(rows, extras, with_ids[lo:hi])
                parts.append(self.process_rows(rows[start:end], keep_events))
            if end < len(rows):
                parts.append(self._python_command(rows[end], extras[end]))
            start = end + 1
        return np.concatenate(parts) if parts else NO_EVENTS

    def process_rows(self, rows: np.ndarray, keep_events: bool = True) -> np.ndarray:
        """Rows that run in the kernels: through risk and the book, or the book alone."""
        if self.risk is None:
            return self.book.process(rows, keep_events)
        return self.risk.process(self.book, rows, keep_events)

    def _python_command(self, row: np.ndarray, extra: object) -> np.ndarray:
        kind = int(row[C_KIND])
        if kind == CmdKind.ADD_INSTRUMENT and isinstance(extra, InstrumentSpec):
            return self._add_instrument(row, extra)
        if kind == CmdKind.SET_REFERENCE:
            return self._set_reference(row)
        if kind in REGISTRY_COMMANDS:
            return apply_registry_command(self.registry, row, extra)
        if self.risk is not None and kind in ACCOUNT_COMMANDS:
            return ACCOUNT_COMMANDS[kind](self, row)
        return rejection(row, RejectCode.UNKNOWN_COMMAND)

    def _add_instrument(self, row: np.ndarray, spec: InstrumentSpec) -> np.ndarray:
        code = instrument_rules.validate(spec)
        if code == RejectCode.OK and spec.symbol in self.symbols:
            code = RejectCode.DUPLICATE_SYMBOL
        if code == RejectCode.OK and len(self.specs) >= self.config.max_instruments:
            code = RejectCode.CAPACITY_INSTRUMENTS
        if code != RejectCode.OK:
            return rejection(row, code)
        instr = len(self.specs)
        self.book.add_instrument(spec)
        if self.risk is not None:
            self.risk.add_instrument(spec)
        self.specs.append(spec)
        self.symbols[spec.symbol] = instr
        return event_row(
            EventKind.INSTRUMENT_ADDED, int(row[C_SEQ]), int(row[C_TS]), instr,
            price=spec.ref_price, a=spec.band_lo, b=spec.band_hi, c=spec.tick, d=spec.lot,
            e=spec.levels,
        )[None, :]

    def _set_reference(self, row: np.ndarray) -> np.ndarray:
        instr = int(row[C_INSTR])
        if not 0 <= instr < len(self.specs):
            return rejection(row, RejectCode.UNKNOWN_INSTRUMENT)
        if self.book.phase(instr) != CLOSED or self.book.has_orders(instr):
            return rejection(row, RejectCode.BOOK_NOT_EMPTY)
        spec = self.specs[instr].with_reference(int(row[C_PRICE]))
        code = instrument_rules.validate(spec)
        if code != RejectCode.OK:
            return rejection(row, code)
        self.book.rebase(instr, spec)
        self.specs[instr] = spec
        return event_row(
            EventKind.REFERENCE_SET, int(row[C_SEQ]), int(row[C_TS]), instr,
            price=spec.ref_price, a=spec.band_lo, b=spec.band_hi,
        )[None, :]

    # --- queries -----------------------------------------------------------------------------

    def instrument_id(self, symbol: str) -> int | None:
        return self.symbols.get(symbol)

    def order_id_for(self, account: int, client_order_id: str) -> int | None:
        """The order id a client order id was given (accepted or rejected), if any."""
        return self.client_ids.get((account, client_order_id))

    # --- state -------------------------------------------------------------------------------

    def state_hash(self) -> str:
        """A digest of the whole logical state, identical for both book implementations."""
        book = self.book.state()
        h = hashlib.blake2b(digest_size=32)
        identity = [
            self.last_seq, self.config.max_orders, self.config.max_accounts,
            int(self.config.stp_default), self.specs,
        ]
        h.update(msgspec.msgpack.encode(identity))
        h.update(msgspec.msgpack.encode(sorted(self.client_ids.items())))
        h.update(msgspec.msgpack.encode(self.registry.image()))
        h.update(book.orders.astype("<i8").tobytes())
        h.update(book.instruments.astype("<i8").tobytes())
        h.update(msgspec.msgpack.encode([book.next_trade_id, book.next_prio]))
        if self.risk is not None:
            risk = self.risk.state()
            for table in (risk.accounts, risk.positions, risk.orders, risk.instruments,
                          risk.ledger):
                h.update(table.astype("<i8").tobytes())
            h.update(msgspec.msgpack.encode([risk.global_kill, risk.next_synthetic,
                                             risk.closed_day, risk.intraday_closed]))
        return h.hexdigest()

    def image(self) -> CoreImage:
        book = self.book.state()
        return CoreImage(
            version=IMAGE_VERSION,
            last_seq=self.last_seq,
            config=self.config,
            specs=list(self.specs),
            client_keys=list(self.client_ids),
            client_order_ids=list(self.client_ids.values()),
            orders=book.orders.astype("<i8").tobytes(),
            instruments=book.instruments.astype("<i8").tobytes(),
            next_trade_id=book.next_trade_id,
            next_prio=book.next_prio,
            risk=RiskImage.of(self.risk.state()) if self.risk is not None else None,
            registry=self.registry.image(),
        )

    @classmethod
    def from_image(cls, image: CoreImage, book: str | None = None) -> Core:
        """Rebuild a core from an image, optionally on the other book implementation."""
        if image.version not in READABLE_IMAGE_VERSIONS:
            raise ValueError(f"unsupported core image version {image.version}")
        config = image.config
        if book is not None:
            config = msgspec.structs.replace(config, book=book)
        core = cls(config)
        for instr, spec in enumerate(image.specs):
            core.book.add_instrument(spec)
            if core.risk is not None:
                core.risk.add_instrument(spec)
            core.specs.append(spec)
            core.symbols[spec.symbol] = instr
        if image.version == 4:
            core.client_ids = {(a, c): o for a, c, o in image.client_ids}
        else:
            core.client_ids = dict(zip(image.client_keys, image.client_order_ids, strict=True))
        orders = np.frombuffer(image.orders, dtype="<i8").astype(np.int64)
        instruments = np.frombuffer(image.instruments, dtype="<i8").astype(np.int64)
        core.book.load(
            BookState(
                orders=orders.reshape(-1, len(ORDER_FIELDS)),
                instruments=instruments.reshape(-1, 2),
                next_trade_id=image.next_trade_id,
                next_prio=image.next_prio,
            )
        )
        if core.risk is not None and image.risk is not None:
            core.risk.load(image.risk.state(), core.book)
        if image.registry is not None:
            core.registry.load(image.registry)
        core.last_seq = image.last_seq
        return core


