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
* DEPOSIT / WITHDRAW: ACCT AMOUNT (paise).
* SET_LIMITS: ACCT, then CREDIT MAX_ORDER_VALUE MAX_OPEN_ORDERS MAX_LONG MAX_SHORT RATE in the
  order columns (see `engine.layout`); 0 means "no limit" except for the credit.
* KILL_SWITCH: TYPE = scope (global / account / instrument), ACCT or INSTR = target,
  TIF = 1 on / 0 off, FLAGS = 1 to also cancel the resting orders in scope.
* MARK: nothing; marks every account to the last traded prices.
* SQUARE_OFF: PRODUCT, INSTR (-1: all): cancels open orders and closes positions of the
  product at market, through the normal order path.
* END_OF_DAY: nothing; posts the day's charges and rolls positions over.
* CREATE_ACCOUNT: extra is the account's name; the core allocates the id.
* ADD_API_KEY: ACCT; extra is the `ApiKeyGrant` (id, scopes, sealed secret).
* REVOKE_API_KEY: ACCT; extra is the key id.
* SET_USER: ACCT; extra is the `UserGrant` (name, role, account, argon2id hash): creates the
  user or replaces its record (a new password, role or deactivation).
"""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np

from engine.instruments import InstrumentSpec
from engine.layout import (
    C_ACCT,
    C_AMOUNT,
    C_CREDIT,
    C_DISCLOSED,
    C_FLAGS,
    C_INSTR,
    C_KIND,
    C_MAX_LONG,
    C_MAX_OPEN_ORDERS,
    C_MAX_ORDER_VALUE,
    C_MAX_SHORT,
    C_OID,
    C_PHASE,
    C_PRICE,
    C_PRODUCT,
    C_QTY,
    C_RATE,
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
    NO_ACCOUNT,
    CmdKind,
    KillScope,
    OrderFlag,
    OrderType,
    Phase,
    Product,
    Side,
    StpMode,
    TimeInForce,
)


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
    product: Product = Product.MIS


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


class Deposit(_Command, tag="deposit"):
    account: int
    amount: int


class Withdraw(_Command, tag="withdraw"):
    account: int
    amount: int


class SetLimits(_Command, tag="set_limits"):
    """An account's risk limits. 0 means unlimited for every field but ``credit``."""

    account: int
    credit: int = 0
    max_order_value: int = 0
    max_open_orders: int = 0
    max_long: int = 0
    max_short: int = 0
    rate_per_s: int = 10


class KillSwitch(_Command, tag="kill_switch"):
    scope: KillScope
    target: int = 0  # the account or instrument; ignored for the global switch
    on: bool = True
    cancel_resting: bool = False


class Mark(_Command, tag="mark"):
    """Mark every account to market at the last traded prices."""


class SquareOff(_Command, tag="square_off"):
    product: Product = Product.MIS
    instrument: int = ALL_INSTRUMENTS


class EndOfDay(_Command, tag="end_of_day"):
    """Post the day's charges and roll positions over to the next day."""


class ApiKeyGrant(msgspec.Struct, frozen=True, array_like=True):
    """An API key as the core records it: never the secret in clear (see `accounts.keys`)."""

    key_id: str
    scopes: int  # `accounts.registry.Scope` flags
    secret_sha256: str  # hex digest of the secret: identifies it, cannot sign
    sealed_secret: bytes  # the secret encrypted under the node's key-encryption key
    label: str = ""
    ips: tuple[str, ...] = ()  # addresses or networks the key may be used from (empty: any)


Extra = str | InstrumentSpec | list | None


def grant_of(extra: object) -> ApiKeyGrant | None:
    """The key grant an ADD_API_KEY row carries, or None if it is malformed."""
    try:
        return msgspec.convert(extra, ApiKeyGrant)
    except msgspec.ValidationError:
        return None


class UserGrant(msgspec.Struct, frozen=True, array_like=True):
    """A user who logs in with a password, as the core records it: never the password, only
    its argon2id hash (see `accounts.users`)."""

    username: str
    account: int  # the account the user trades for (-1: none, e.g. a risk officer)
    role: str  # trader, risk_officer, admin or partner
    password_hash: str  # an argon2id hash in PHC format
    active: bool = True


def user_of(extra: object) -> UserGrant | None:
    try:
        return msgspec.convert(extra, UserGrant)
    except msgspec.ValidationError:
        return None


class CreateAccount(_Command, tag="create_account"):
    name: str
    # The id it must have (the one it has on the cluster's other shards), or the next free.
    account: int = NO_ACCOUNT


class AddApiKey(_Command, tag="add_api_key"):
    account: int
    grant: ApiKeyGrant


class RevokeApiKey(_Command, tag="revoke_api_key"):
    account: int
    key_id: str


class SetUser(_Command, tag="set_user"):
    grant: UserGrant


Command = (
    NewOrder | Cancel | Amend | CancelAll | SetPhase | AddInstrument | SetReference | Deposit
    | Withdraw | SetLimits | KillSwitch | Mark | SquareOff | EndOfDay | CreateAccount | AddApiKey
    | RevokeApiKey | SetUser
)


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
            row[C_PRODUCT] = cmd.product
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
        case Deposit() | Withdraw():
            row[C_KIND] = CmdKind.DEPOSIT if isinstance(cmd, Deposit) else CmdKind.WITHDRAW
            row[C_ACCT] = cmd.account
            row[C_INSTR] = ALL_INSTRUMENTS
            row[C_AMOUNT] = cmd.amount
            return None
        case SetLimits():
            row[C_KIND] = CmdKind.SET_LIMITS
            row[C_ACCT] = cmd.account
            row[C_INSTR] = ALL_INSTRUMENTS
            row[C_CREDIT] = cmd.credit
            row[C_MAX_ORDER_VALUE] = cmd.max_order_value
            row[C_MAX_OPEN_ORDERS] = cmd.max_open_orders
            row[C_MAX_LONG] = cmd.max_long
            row[C_MAX_SHORT] = cmd.max_short
            row[C_RATE] = cmd.rate_per_s
            return None
        case KillSwitch():
            row[C_KIND] = CmdKind.KILL_SWITCH
            row[C_TYPE] = cmd.scope
            row[C_ACCT] = cmd.target if cmd.scope == KillScope.ACCOUNT else NO_ACCOUNT
            row[C_INSTR] = cmd.target if cmd.scope == KillScope.INSTRUMENT else ALL_INSTRUMENTS
            row[C_TIF] = int(cmd.on)
            row[C_FLAGS] = int(cmd.cancel_resting)
            return None
        case Mark():
            row[C_KIND] = CmdKind.MARK
            row[C_INSTR] = ALL_INSTRUMENTS
            return None
        case SquareOff():
            row[C_KIND] = CmdKind.SQUARE_OFF
            row[C_PRODUCT] = cmd.product
            row[C_INSTR] = cmd.instrument
            return None
        case EndOfDay():
            row[C_KIND] = CmdKind.END_OF_DAY
            row[C_INSTR] = ALL_INSTRUMENTS
            return None
        case CreateAccount():
            row[C_KIND] = CmdKind.CREATE_ACCOUNT
            row[C_ACCT] = cmd.account
            row[C_INSTR] = ALL_INSTRUMENTS
            return cmd.name
        case AddApiKey():
            row[C_KIND] = CmdKind.ADD_API_KEY
            row[C_ACCT] = cmd.account
            row[C_INSTR] = ALL_INSTRUMENTS
            return list(msgspec.structs.astuple(cmd.grant))
        case RevokeApiKey():
            row[C_KIND] = CmdKind.REVOKE_API_KEY
            row[C_ACCT] = cmd.account
            row[C_INSTR] = ALL_INSTRUMENTS
            return cmd.key_id
        case SetUser():
            row[C_KIND] = CmdKind.SET_USER
            row[C_ACCT] = cmd.grant.account
            row[C_INSTR] = ALL_INSTRUMENTS
            return list(msgspec.structs.astuple(cmd.grant))
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
            client_order_id=text, product=Product(r[C_PRODUCT]),
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
    if kind is CmdKind.SET_REFERENCE:
        return SetReference(instrument=r[C_INSTR], ref_price=r[C_PRICE])
    if kind in (CmdKind.DEPOSIT, CmdKind.WITHDRAW):
        cls = Deposit if kind is CmdKind.DEPOSIT else Withdraw
        return cls(account=r[C_ACCT], amount=r[C_AMOUNT])
    if kind is CmdKind.SET_LIMITS:
        return SetLimits(
            account=r[C_ACCT], credit=r[C_CREDIT], max_order_value=r[C_MAX_ORDER_VALUE],
            max_open_orders=r[C_MAX_OPEN_ORDERS], max_long=r[C_MAX_LONG],
            max_short=r[C_MAX_SHORT], rate_per_s=r[C_RATE],
        )
    if kind is CmdKind.KILL_SWITCH:
        scope = KillScope(r[C_TYPE])
        target = {KillScope.ACCOUNT: r[C_ACCT], KillScope.INSTRUMENT: r[C_INSTR]}.get(scope, 0)
        return KillSwitch(scope=scope, target=target, on=bool(r[C_TIF]),
                          cancel_resting=bool(r[C_FLAGS]))
    if kind is CmdKind.MARK:
        return Mark()
    if kind is CmdKind.SQUARE_OFF:
        return SquareOff(product=Product(r[C_PRODUCT]), instrument=r[C_INSTR])
    if kind is CmdKind.CREATE_ACCOUNT:
        return CreateAccount(name=text, account=r[C_ACCT])
    if kind is CmdKind.ADD_API_KEY:
        return AddApiKey(account=r[C_ACCT], grant=grant_of(extra))
    if kind is CmdKind.REVOKE_API_KEY:
        return RevokeApiKey(account=r[C_ACCT], key_id=text)
    if kind is CmdKind.SET_USER:
        grant = user_of(extra)
        assert grant is not None
        return SetUser(grant=grant)
    return EndOfDay()


class InvalidCommandError(ValueError):
    """A command whose fields do not fit the core's columns; refused before sequencing."""


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
        with_ids = [i for i, c in enumerate(commands)
                    if type(c) in _WITH_CLIENT_IDS and extras[i] is not None]
        in_python = [i for i, c in enumerate(commands) if type(c) in _PYTHON_COMMANDS]
        return cls(rows, extras, (with_ids, in_python))

    @property
    def marks(self) -> tuple[list[int], list[int]]:
        """(rows carrying a client order id, rows that run in Python, not the kernel)."""
        if self._marks is None:
            kinds = self.rows[:, C_KIND]
            with_ids = [i for i, e in enumerate(self.extras)
                        if type(e) is str and kinds[i] in _CLIENT_ID_KINDS]
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


_PYTHON_COMMANDS = (AddInstrument, SetReference, KillSwitch, SquareOff, EndOfDay, CreateAccount,
                    AddApiKey, RevokeApiKey, SetUser)
_WITH_CLIENT_IDS = (NewOrder, Cancel, Amend)
_CLIENT_ID_KINDS = (CmdKind.NEW_ORDER, CmdKind.CANCEL, CmdKind.AMEND)


EXTRAS_ENCODER = msgspec.msgpack.Encoder()
# A key grant travels as a plain list (msgspec cannot tell two untagged Structs apart).
EXTRAS_DECODER = msgspec.msgpack.Decoder(list[str | InstrumentSpec | list | None])


def encode_extras(extras: list[Extra]) -> bytes:
    return EXTRAS_ENCODER.encode(extras)


def decode_extras(data: bytes) -> list[Any]:
    return EXTRAS_DECODER.decode(data)


def client_order_ids(batch: CommandBatch) -> dict[int, str]:
    """The client order id of each new order in a batch, by its order id."""
    rows = batch.rows
    # two columns as lists: comparing numpy scalars row by row costs more than the dict
    kinds, order_ids = rows[:, C_KIND].tolist(), rows[:, C_OID].tolist()
    return {order_ids[i]: e for i, e in enumerate(batch.extras)
            if type(e) is str and kinds[i] == _NEW_ORDER}


_NEW_ORDER = int(CmdKind.NEW_ORDER)
