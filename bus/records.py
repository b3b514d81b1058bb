"""The Kafka records of a durable batch, from the core's events: no I/O.

`Records.build(batch, events)` answers with one `Record` per message (`bus.schemas`) in a
fixed order, after the batch was applied to ``core`` (the publisher's own copy of it, so that
names, client order ids and positions are read as they stood right after the batch).

Each event record is named by ``(seq, index)``: the command that caused it and its place
among that command's records on its topic. Both follow from the command alone, not from how
commands were grouped into batches, so a publisher that restarts from an earlier point and
publishes some records again gives them the same names, and consumers drop duplicates by
them. Position records are a state feed instead: one per position a batch's trades changed,
named by the batch's last ``seq``; the newest wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from accounts.registry import scope_names
from bus import schemas
from engine.codes import RejectCode
from engine.commands import CommandBatch, client_order_ids
from engine.core import Core
from engine.layout import (
    E_A,
    E_ACCT,
    E_B,
    E_C,
    E_D,
    E_E,
    E_F,
    E_INSTR,
    E_KIND,
    E_OID,
    E_PRICE,
    E_QTY,
    E_SEQ,
    E_SIDE,
    E_TS,
)
from engine.types import (
    AUCTION_AGGRESSOR,
    CmdKind,
    EventKind,
    KillScope,
    LedgerAccount,
    LedgerEntry,
    OrderType,
    Phase,
    Product,
    Reason,
    Side,
    TimeInForce,
)
from portfolio.views import position_view

MINUTE = 60 * 1_000_000_000


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: str
    message: schemas.Message
    seq: int
    index: int  # among the records of ``seq`` on ``topic``


@dataclass(slots=True)
class _Bar:
    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0
    trades: int = 0
    complete: bool = True


@dataclass
class Records:
    core: Core
    # Bars that began before this are incomplete (see `warm`); -1: the time of the first
    # trade built (a publisher restarted at a snapshot knows nothing of the minute before).
    started_ts: int = 0
    _client_ids: dict[int, str] = field(default_factory=dict)
    _bars: dict[int, _Bar] = field(default_factory=dict)
    _counts: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._client_ids = {oid: cid for (_, cid), oid in self.core.client_ids.items()}

    # --- a batch -------------------------------------------------------------------------------

    def build(self, batch: CommandBatch, events: list[list[int]]) -> list[Record]:
        self._client_ids.update(client_order_ids(batch))
        out: list[Record] = []
        self._counts = {}
        changed: set[tuple[int, int]] = set()  # (account, instrument) positions traded
        for r in events:
            kind = r[E_KIND]
            handler = _HANDLERS.get(kind)
            if handler is not None:
                handler(self, r, out)
            if kind == EventKind.TRADED:
                changed.update(((r[E_C], r[E_INSTR]), (r[E_D], r[E_INSTR])))
        if changed and self.core.risk is not None:
            self._positions(batch.last_seq, events[-1][E_TS], changed, out)
        return out

    def warm(self, events: list[list[int]]) -> None:
        """Follow trades into the minute bars without publishing (after a restart, the
        commands between the snapshot and the restart point)."""
        for r in events:
            if r[E_KIND] == EventKind.TRADED:
                self._bar(r, None)

    # --- events --------------------------------------------------------------------------------

    def _add(self, out: list[Record], key: object, message: schemas.Message) -> None:
        topic = schemas.TOPICS[type(message)]
        name = (topic, message.seq)
        index = self._counts.get(name, 0)
        self._counts[name] = index + 1
        out.append(Record(topic, str(key), message, message.seq, index))

    def _accepted(self, r: list[int], out: list[Record]) -> None:
        product = r[E_E] >> 8 or int(Product.MIS)
        self._add(out, r[E_ACCT], schemas.OrderCreated(
            seq=r[E_SEQ], ts=r[E_TS], order_id=r[E_OID],
            client_order_id=self._client_ids.get(r[E_OID], ""), account=r[E_ACCT],
            symbol=self._symbol(r[E_INSTR]), side=Side(r[E_SIDE]).name,
            order_type=OrderType(r[E_A]).name, tif=TimeInForce(r[E_B]).name,
            product=Product(product).name, price=r[E_PRICE], trigger=r[E_C], qty=r[E_QTY],
            disclosed=r[E_D], post_only=bool(r[E_E] & 1)))

    def _rejected(self, r: list[int], out: list[Record]) -> None:
        side = r[E_SIDE]
        self._add(out, r[E_ACCT], schemas.OrderRejected(
            seq=r[E_SEQ], ts=r[E_TS], order_id=r[E_OID],
            client_order_id=self._client_ids.get(r[E_OID], ""), account=r[E_ACCT],
            symbol=self._symbol(r[E_INSTR]), command=_name(CmdKind, r[E_B]),
            code=RejectCode(r[E_A]).name, side=Side(side).name if side in (1, 2) else "",
            price=r[E_PRICE], qty=r[E_QTY]))

    def _traded(self, r: list[int], out: list[Record]) -> None:
        symbol = self._symbol(r[E_INSTR])
        aggressor = r[E_SIDE]
        self._add(out, symbol, schemas.TradePrinted(
            seq=r[E_SEQ], ts=r[E_TS], trade_id=r[E_OID], symbol=symbol, price=r[E_PRICE],
            qty=r[E_QTY], aggressor="auction" if aggressor == AUCTION_AGGRESSOR
            else Side(aggressor).name.lower(), buy_order_id=r[E_A], sell_order_id=r[E_B]))
        for oid, account, leaves, side in ((r[E_A], r[E_C], r[E_E], Side.BUY),
                                           (r[E_B], r[E_D], r[E_F], Side.SELL)):
            liquidity = ("auction" if aggressor == AUCTION_AGGRESSOR
                         else "taker" if aggressor == side else "maker")
            self._add(out, account, schemas.OrderExecuted(
                seq=r[E_SEQ], ts=r[E_TS], trade_id=r[E_OID], order_id=oid,
                client_order_id=self._client_ids.get(oid, ""), account=account,
                symbol=symbol, side=side.name, price=r[E_PRICE], qty=r[E_QTY],
                leaves=leaves, liquidity=liquidity))
        self._bar(r, out)

    def _ended(self, r: list[int], out: list[Record]) -> None:
        status = "CANCELLED" if r[E_KIND] == EventKind.CANCELLED else "EXPIRED"
        self._add(out, r[E_ACCT], schemas.OrderCancelled(
            seq=r[E_SEQ], ts=r[E_TS], order_id=r[E_OID],
            client_order_id=self._client_ids.get(r[E_OID], ""), account=r[E_ACCT],
            symbol=self._symbol(r[E_INSTR]), status=status, reason=_name(Reason, r[E_A]),
            qty=r[E_QTY]))

    def _amended(self, r: list[int], out: list[Record]) -> None:
        self._add(out, r[E_ACCT], schemas.OrderAmended(
            seq=r[E_SEQ], ts=r[E_TS], order_id=r[E_OID],
            client_order_id=self._client_ids.get(r[E_OID], ""), account=r[E_ACCT],
            symbol=self._symbol(r[E_INSTR]), price=r[E_PRICE], qty=r[E_QTY], leaves=r[E_A],
            trigger=r[E_C], disclosed=r[E_D], priority_kept=bool(r[E_B])))

    def _phase_changed(self, r: list[int], out: list[Record]) -> None:
        symbol = self._symbol(r[E_INSTR]) or "all"
        self._add(out, symbol, schemas.PhaseChanged(
            seq=r[E_SEQ], ts=r[E_TS], symbol=symbol, phase=_name(Phase, r[E_A]),
            previous=_name(Phase, r[E_B]), reason=_name(Reason, r[E_C])))
        for instrument, bar in list(self._bars.items()):  # a phase change closes the bar
            if instrument == r[E_INSTR] or r[E_INSTR] < 0:
                self._close_bar(instrument, bar, r[E_SEQ], r[E_TS], out)

    def _ledger(self, r: list[int], out: list[Record]) -> None:
        self._add(out, r[E_ACCT], schemas.LedgerPosted(
            seq=r[E_SEQ], ts=r[E_TS], account=r[E_ACCT], entry=_name(LedgerEntry, r[E_SIDE]),
            debit=_name(LedgerAccount, r[E_A]), credit=_name(LedgerAccount, r[E_B]),
            amount=r[E_C], reference=r[E_OID], symbol=self._symbol(r[E_INSTR])))

    def _limits_set(self, r: list[int], out: list[Record]) -> None:
        self._add(out, r[E_ACCT], schemas.LimitsSet(
            seq=r[E_SEQ], ts=r[E_TS], account=r[E_ACCT], credit=r[E_A], max_order_value=r[E_B],
            max_open_orders=r[E_C], max_long=r[E_D], max_short=r[E_E], rate_per_s=r[E_F]))

    def _margin_call(self, r: list[int], out: list[Record]) -> None:
        self._add(out, r[E_ACCT], schemas.MarginCall(
            seq=r[E_SEQ], ts=r[E_TS], account=r[E_ACCT], in_call=bool(r[E_A]), equity=r[E_B],
            maintenance=r[E_C], unrealised=r[E_D]))

    def _kill_switch(self, r: list[int], out: list[Record]) -> None:
        scope = _name(KillScope, r[E_A])
        self._add(out, r[E_B] if scope == "ACCOUNT" else "all", schemas.KillSwitchSet(
            seq=r[E_SEQ], ts=r[E_TS], scope=scope, target=r[E_B], on=bool(r[E_C]),
            cancel=bool(r[E_D])))

    def _day_closed(self, r: list[int], out: list[Record]) -> None:
        self._add(out, "all", schemas.DayClosed(seq=r[E_SEQ], ts=r[E_TS],
                                                accounts_charged=r[E_A], day=r[E_B]))

    def _account_created(self, r: list[int], out: list[Record]) -> None:
        record = self.core.registry.accounts.get(r[E_ACCT])
        self._add(out, r[E_ACCT], schemas.AccountRegistered(
            seq=r[E_SEQ], ts=r[E_TS], account=r[E_ACCT], name=record.name if record else ""))

    def _key_changed(self, r: list[int], out: list[Record]) -> None:
        number = r[E_A]
        key = next((k for k in self.core.registry.keys.values() if k.key_no == number), None)
        added = r[E_KIND] == EventKind.API_KEY_ADDED
        self._add(out, r[E_ACCT], schemas.KeyChanged(
            seq=r[E_SEQ], ts=r[E_TS], account=r[E_ACCT], key_id=key.grant.key_id if key else "",
            change="added" if added else "revoked",
            scopes=scope_names(key.grant.scopes) if key else []))

    def _user_set(self, r: list[int], out: list[Record]) -> None:
        number = r[E_A]
        user = next((u for u in self.core.registry.users.values() if u.user_no == number),
                    None)
        self._add(out, r[E_ACCT], schemas.UserSet(
            seq=r[E_SEQ], ts=r[E_TS], account=r[E_ACCT],
            username=user.grant.username if user else "",
            role=user.grant.role if user else str(r[E_B]),
            active=bool(r[E_C])))

    # --- state ---------------------------------------------------------------------------------

    def _positions(self, seq: int, ts: int, changed: set[tuple[int, int]],
                   out: list[Record]) -> None:
        assert self.core.risk is not None
        marks = [0] * len(self.core.specs)
        for account in sorted({a for a, _ in changed if a >= 0}):
            instruments = {i for a, i in changed if a == account}
            for row in self.core.risk.positions_of(account):
                view = position_view(row, marks)
                if view.instrument not in instruments:
                    continue
                self._add(out, account, schemas.PositionUpdated(
                    seq=seq, ts=ts, account=account, symbol=self._symbol(view.instrument),
                    product=view.product.name, net=view.net,
                    average_price=view.average_price, basis=view.basis,
                    realised=view.realised, margin=view.margin, day_buy_qty=view.day_buy_qty,
                    day_sell_qty=view.day_sell_qty))

    def _bar(self, r: list[int], out: list[Record] | None) -> None:
        instrument, price, qty, ts = r[E_INSTR], r[E_PRICE], r[E_QTY], r[E_TS]
        start = ts - ts % MINUTE
        bar = self._bars.get(instrument)
        if bar is not None and bar.start != start:
            if out is not None:
                self._close_bar(instrument, bar, r[E_SEQ], ts, out)
            bar = None
        if bar is None:
            if self.started_ts < 0:
                self.started_ts = ts
            bar = self._bars[instrument] = _Bar(start, price, price, price, price,
                                                complete=start >= self.started_ts)
        bar.high, bar.low, bar.close = max(bar.high, price), min(bar.low, price), price
        bar.volume += qty
        bar.trades += 1

    def _close_bar(self, instrument: int, bar: _Bar, seq: int, ts: int,
                   out: list[Record]) -> None:
        symbol = self._symbol(instrument)
        self._add(out, symbol, schemas.CandleClosed(
            seq=seq, ts=ts, symbol=symbol, start=bar.start, open=bar.open, high=bar.high,
            low=bar.low, close=bar.close, volume=bar.volume, trades=bar.trades,
            complete=bar.complete))
        del self._bars[instrument]

    def _symbol(self, instrument: int) -> str:
        specs = self.core.specs
        return specs[instrument].symbol if 0 <= instrument < len(specs) else ""


def _name(enum: type, value: int) -> str:
    try:
        return enum(value).name
    except ValueError:
        return str(value)


_HANDLERS = {
    EventKind.ACCEPTED: Records._accepted, EventKind.REJECTED: Records._rejected,
    EventKind.TRADED: Records._traded, EventKind.CANCELLED: Records._ended,
    EventKind.EXPIRED: Records._ended, EventKind.AMENDED: Records._amended,
    EventKind.PHASE_CHANGED: Records._phase_changed, EventKind.LEDGER: Records._ledger,
    EventKind.LIMITS_SET: Records._limits_set, EventKind.MARGIN_CALL: Records._margin_call,
    EventKind.KILL_SWITCH_SET: Records._kill_switch, EventKind.DAY_CLOSED: Records._day_closed,
    EventKind.ACCOUNT_CREATED: Records._account_created,
    EventKind.API_KEY_ADDED: Records._key_changed,
    EventKind.API_KEY_REVOKED: Records._key_changed, EventKind.USER_SET: Records._user_set,
}
