"""Commands into the core, and their encoding as int64 rows plus a side list of extras.

A command is a frozen msgspec Struct at the edges (gateways, tests, tools) and a row of
``CMD_WIDTH`` int64 inside the core, so that a batch is one array and one kernel call. Strings
(client order ids) and instrument definitions do not fit a row; they travel in a parallel
``extras`` list, one entry per row. `CommandBatch` holds both and is what the sequencer
stamps, the journal stores and the core applies.

Row columns per kind (see `engine.layout`):

* NEW_ORDER: ACCT INSTR SIDE TYPE TIF PRICE QTY TRIGGER DISCLOSED FLAGS STP; OID is set to
  the sequence number by the sequencer. Extra: client order id.
* CANCEL: ACCT OID (or 0 and a client order id in the extra).
* AMEND: ACCT OID PRICE QTY TRIGGER DISCLOSED (0 keeps price/qty/trigger, -1 keeps disclosed).
* CANCEL_ALL: ACCT INSTR (-1: every instrument).
* SET_PHASE: INSTR PHASE.
* ADD_INSTRUMENT: extra is the `InstrumentSpec`.
* SET_REFERENCE: INSTR PRICE (new reference price).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from engine.instruments import InstrumentSpec
from engine.layout import (
    C_ACCT,
    C_DISCLOSED,
    C_FLAGS,
    C_INSTR,
    C_KIND,
    C_OID,
    C_PHASE,
    C_PRICE,
    C_QTY,
    C_SEQ,
    C_SIDE,
    C_STP,
    C_TIF,
    C_TRIGGER,
    C_TS,
    C_TYPE,
    CMD_WIDTH,
    KERNEL_KIND_LIMIT,
)
from engine.types import (
    ALL_INSTRUMENTS,
    CmdKind,
    OrderFlag,
    OrderType,
    Phase,
    Side,
    StpMode,
    TimeInForce,
)

Extra = str | InstrumentSpec | None


class _Command(msgspec.Struct, frozen=True, tag_field="command"):
    """Base of all commands; tagged so a union of them decodes from JSON or msgpack."""


class NewOrder(_Command, tag="new_order"):
    account: int
    instrument: int
    side: Side
    qty: int
    price: int = 0
    type: OrderType = OrderType.LIMIT
    tif: TimeInForce = TimeInForce.DAY
    trigger: int = 0
    disclosed: int = 0
    post_only: bool = False
    stp: StpMode = StpMode.DEFAULT
    client_order_id: str = ""


class Cancel(_Command, tag="cancel"):
    account: int
    order_id: int = 0
    client_order_id: str = ""


class Amend(_Command, tag="amend"):
    account: int
    order_id: int = 0
    client_order_id: str = ""
    price: int = 0
    qty: int = 0
    trigger: int = 0
    disclosed: int = -1


class CancelAll(_Command, tag="cancel_all"):
    account: int
    instrument: int = ALL_INSTRUMENTS


class SetPhase(_Command, tag="set_phase"):
    instrument: int
    phase: Phase


class AddInstrument(_Command, tag="add_instrument"):
    spec: InstrumentSpec


class SetReference(_Command, tag="set_reference"):
    instrument: int
    ref_price: int


Command = NewOrder | Cancel | Amend | CancelAll | SetPhase | AddInstrument | SetReference


def encode(cmd: Command, row: np.ndarray) -> Extra:
    """Write ``cmd`` into a zeroed row; return its extra (or None)."""
    match cmd:
        case NewOrder():
            row[C_KIND] = CmdKind.NEW_ORDER
            row[C_ACCT] = cmd.account
            row[C_INSTR] = cmd.instrument
            row[C_SIDE] = cmd.side
            row[C_TYPE] = cmd.type
            row[C_TIF] = cmd.tif
            row[C_PRICE] = cmd.price
            row[C_QTY] = cmd.qty
            row[C_TRIGGER] = cmd.trigger
            row[C_DISCLOSED] = cmd.disclosed
            row[C_FLAGS] = OrderFlag.POST_ONLY if cmd.post_only else 0
            row[C_STP] = cmd.stp
            return cmd.client_order_id or None
        case Cancel():
            row[C_KIND] = CmdKind.CANCEL
            row[C_ACCT] = cmd.account
            row[C_INSTR] = ALL_INSTRUMENTS
            row[C_OID] = cmd.order_id
            return cmd.client_order_id or None
        case Amend():
            row[C_KIND] = CmdKind.AMEND
            row[C_ACCT] = cmd.account
            row[C_INSTR] = ALL_INSTRUMENTS
            row[C_OID] = cmd.order_id
            row[C_PRICE] = cmd.price
            row[C_QTY] = cmd.qty
            row[C_TRIGGER] = cmd.trigger
            row[C_DISCLOSED] = cmd.disclosed
            return cmd.client_order_id or None
        case CancelAll():
            row[C_KIND] = CmdKind.CANCEL_ALL
            row[C_ACCT] = cmd.account
            row[C_INSTR] = cmd.instrument
            return None
        case SetPhase():
            row[C_KIND] = CmdKind.SET_PHASE
            row[C_INSTR] = cmd.instrument
            row[C_PHASE] = cmd.phase
            return None
        case AddInstrument():
            row[C_KIND] = CmdKind.ADD_INSTRUMENT
            return cmd.spec
        case SetReference():
            row[C_KIND] = CmdKind.SET_REFERENCE
            row[C_INSTR] = cmd.instrument
            row[C_PRICE] = cmd.ref_price
            return None
    raise TypeError(f"not a command: {cmd!r}")


def decode(row: np.ndarray | list[int], extra: Extra) -> Command:
    """The Struct form of an encoded row (for tools, journal inspection and tests)."""
    r = [int(v) for v in row]
    kind = CmdKind(r[C_KIND])
    text = extra if isinstance(extra, str) else ""
    if kind is CmdKind.NEW_ORDER:
        return NewOrder(
            account=r[C_ACCT], instrument=r[C_INSTR], side=Side(r[C_SIDE]), qty=r[C_QTY],
            price=r[C_PRICE], type=OrderType(r[C_TYPE]), tif=TimeInForce(r[C_TIF]),
            trigger=r[C_TRIGGER], disclosed=r[C_DISCLOSED],
            post_only=bool(r[C_FLAGS] & OrderFlag.POST_ONLY), stp=StpMode(r[C_STP]),
            client_order_id=text,
        )
    if kind is CmdKind.CANCEL:
        return Cancel(account=r[C_ACCT], order_id=r[C_OID], client_order_id=text)
    if kind is CmdKind.AMEND:
        return Amend(
            account=r[C_ACCT], order_id=r[C_OID], client_order_id=text, price=r[C_PRICE],
            qty=r[C_QTY], trigger=r[C_TRIGGER], disclosed=r[C_DISCLOSED],
        )
    if kind is CmdKind.CANCEL_ALL:
        return CancelAll(account=r[C_ACCT], instrument=r[C_INSTR])
    if kind is CmdKind.SET_PHASE:
        return SetPhase(instrument=r[C_INSTR], phase=Phase(r[C_PHASE]))
    if kind is CmdKind.ADD_INSTRUMENT:
        assert isinstance(extra, InstrumentSpec)
        return AddInstrument(spec=extra)
    return SetReference(instrument=r[C_INSTR], ref_price=r[C_PRICE])


class CommandBatch:
    """Rows plus extras: the unit the sequencer stamps, the journal stores and the core applies.

    `marks` tells the core which rows need Python-side work (a client order id to check
    or resolve, or a command that does not run in the book kernel); it is computed once,
    while encoding when the batch is built from commands, so that a small batch of plain
    orders costs the core nothing beyond the kernel call.
    """

    __slots__ = ("_marks", "extras", "rows")

    def __init__(self, rows: np.ndarray, extras: list[Extra],
                 marks: tuple[list[int], list[int]] | None = None) -> None:
        if rows.ndim != 2 or rows.shape[1] != CMD_WIDTH or rows.dtype != np.int64:
            raise ValueError("command rows must be an (n, CMD_WIDTH) int64 array")
        if len(extras) != rows.shape[0]:
            raise ValueError("one extra per row")
        self.rows = rows
        self.extras = extras
        self._marks = marks

    @classmethod
    def of(cls, commands: list[Command] | tuple[Command, ...]) -> CommandBatch:
        rows = np.zeros((len(commands), CMD_WIDTH), dtype=np.int64)
        extras = [encode(cmd, rows[i]) for i, cmd in enumerate(commands)]
        with_ids = [i for i, e in enumerate(extras) if type(e) is str]
        in_python = [i for i, c in enumerate(commands) if type(c) in _PYTHON_COMMANDS]
        return cls(rows, extras, (with_ids, in_python))

    @property
    def marks(self) -> tuple[list[int], list[int]]:
        """(rows carrying a client order id, rows that run in Python, not the kernel)."""
        if self._marks is None:
            with_ids = [i for i, e in enumerate(self.extras) if type(e) is str]
            kinds = self.rows[:, C_KIND]
            in_python = np.flatnonzero(kinds >= KERNEL_KIND_LIMIT).tolist()
            self._marks = (with_ids, in_python)
        return self._marks

    def __len__(self) -> int:
        return self.rows.shape[0]

    @property
    def first_seq(self) -> int:
        return int(self.rows[0, C_SEQ]) if len(self) else 0

    @property
    def last_seq(self) -> int:
        return int(self.rows[-1, C_SEQ]) if len(self) else 0

    def commands(self) -> list[Command]:
        return [decode(self.rows[i], self.extras[i]) for i in range(len(self))]

    def slice(self, start: int, stop: int) -> CommandBatch:
        return CommandBatch(self.rows[start:stop], self.extras[start:stop])

    def timestamps(self) -> np.ndarray:
        return self.rows[:, C_TS]


_PYTHON_COMMANDS = (AddInstrument, SetReference)


EXTRAS_ENCODER = msgspec.msgpack.Encoder()
EXTRAS_DECODER = msgspec.msgpack.Decoder(list[str | InstrumentSpec | None])


def encode_extras(extras: list[Extra]) -> bytes:
    return EXTRAS_ENCODER.encode(extras)


def decode_extras(data: bytes) -> list[Any]:
    return EXTRAS_DECODER.decode(data)
