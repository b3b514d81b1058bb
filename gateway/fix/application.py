"""The order-entry messages of a FIX session, carried out on the core.

NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G), OrderStatusRequest
(H) and OrderMassCancelRequest (q) become core commands, queued to the node in the order
they arrived: the acceptor calls `OrderEntry.submit_held` after each read of the socket,
so a burst of orders is one submission with one receipt. Their answers come back from the
core's events (`Reports`), except what is refused here before the core sees it (a bad
field, an unknown order, a ClOrdID in use, a full queue): that is answered at once.
Drop-copy sessions are read-only: every application message they send gets a
BusinessMessageReject (NotAuthorized).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.commands import Cancel, CancelAll, InvalidCommandError
from engine.types import ALL_INSTRUMENTS, OrderType, Product, TimeInForce
from gateway.fix import orders
from gateway.fix.codec import Body, Message
from gateway.fix.orders import RefusedError
from gateway.fix.reports import (
    DUPLICATE_CL_ORD_ID,
    OTHER,
    TOO_LATE,
    UNKNOWN_ORDER,
    Order,
    Pending,
    Reports,
)
from gateway.private import AccountFeeds

if TYPE_CHECKING:
    from gateway.server import CommandSink

log = logging.getLogger("gridworks.fix")
Reply = Callable[[str, Body], None]  # (msg_type, body) to this session


class Trader:
    """Who a session trades for: its accounts (the first is the default) and product."""

    def __init__(self, owner: str, accounts: list[int], names: dict[str, int],
                 product: Product, drop_copy: bool) -> None:
        self.owner = owner
        self.accounts = accounts
        self.names = names  # account name (case-folded) -> number, for Account(1)
        self.product = product
        self.drop_copy = drop_copy

    def account(self, msg: Message) -> int:
        given = msg.get(1)
        if given is None:
            if len(self.accounts) > 1:
                raise RefusedError(orders.UNKNOWN_ACCOUNT,
                                   "ACCOUNT_INVALID: this session trades several accounts; "
                                   "give Account(1)")
            return self.accounts[0]
        number = int(given) if given.isdigit() else self.names.get(given.casefold(), -1)
        if number not in self.accounts:
            raise RefusedError(orders.UNKNOWN_ACCOUNT,
                               f"ACCOUNT_INVALID: this session does not trade {given!r}")
        return number


class OrderEntry:
    def __init__(self, node: CommandSink, reports: Reports, accounts: AccountFeeds,
                 max_backlog: int = 20_000) -> None:
        self.node = node
        self.reports = reports
        self.accounts = accounts
        self.max_backlog = max_backlog
        self._held: list[tuple[object, Pending, Callable[[str], None]]] = []

    def handle(self, trader: Trader, msg: Message, now: int, reply: Reply) -> None:
        kind = msg.msg_type
        if trader.drop_copy:
            reply("j", [(45, msg.get(34)), (372, kind), (380, 6),
                        (58, "NOT_AUTHORIZED: a drop-copy session is read-only")])
            return
        try:
            if kind == "D":
                self._new_order(trader, msg, now, reply)
            elif kind in ("F", "G"):
                self._cancel_or_replace(trader, msg, now, reply)
            elif kind == "H":
                self._status(trader, msg, now, reply)
            elif kind == "q":
                self._mass_cancel(trader, msg, now, reply)
        except Exception:  # a bug costs this message its answer, not the session
            log.exception("a FIX %s message could not be handled", kind)
            reply("j", [(45, msg.get(34)), (372, kind), (380, 4),
                        (58, "INTERNAL_ERROR: the message could not be handled")])

    # --- the messages --------------------------------------------------------------------------

    def _new_order(self, trader: Trader, msg: Message, now: int, reply: Reply) -> None:
        request = Pending(trader.owner, "D", msg.get(11) or "")
        account = trader.accounts[0]
        try:
            account = trader.account(msg)
            fields = orders.order_fields(msg, self._instrument, trader.product)
            if msg.get(43) == "Y":  # a resend: an order already taken is told as it stands
                known = self._known(account, 0, fields.cl_ord_id)
                if known is not None:
                    if known.owner is None:  # taken before a restart: its reports come here
                        known.owner = trader.owner
                    reply("8", self.reports.status_report(known, fields.cl_ord_id, now))
                    return
            if self.reports.name_taken(account, fields.cl_ord_id):
                raise RefusedError(orders.DUPLICATE_ORDER,
                                   "DUPLICATE_CLIENT_ORDER_ID: ClOrdID already used")
            command = orders.new_order(account, fields)
        except RefusedError as exc:
            reply("8", self.reports.refused_order(account, request, exc.reason, exc.text,
                                                  msg.get(54) or "", msg.get(55) or "", now))
            return

        def refused(text: str) -> None:
            reply("8", self.reports.refused_order(account, request, orders.OTHER, text,
                                                  msg.get(54) or "", msg.get(55) or "", now))
        self._submit(command, request, refused)

    def _cancel_or_replace(self, trader: Trader, msg: Message, now: int,
                           reply: Reply) -> None:
        kind = msg.msg_type
        request = Pending(trader.owner, kind, msg.get(11) or "",
                          orig_cl_ord_id=msg.get(41) or "")
        try:
            account = trader.account(msg)
            orders.cl_ord_id(msg)
            order = self._find(account, msg)
            if order is None:
                raise _CancelRefused(UNKNOWN_ORDER, "ORDER_NOT_FOUND: no such order")
            if order.leaves == 0:
                raise _CancelRefused(TOO_LATE, "ORDER_NOT_AMENDABLE: the order is done", order)
            if self.reports.name_taken(account, request.cl_ord_id):
                raise _CancelRefused(DUPLICATE_CL_ORD_ID, "DUPLICATE_CLIENT_ORDER_ID: "
                                     "ClOrdID already used", order)
            if kind == "F":
                command: object = Cancel(account, order_id=order.order_id)
            else:
                command = self._replace(account, order, msg, trader)
        except RefusedError as exc:
            reply("9", self.reports.cancel_reject(request, OTHER, exc.text, now,
                                                  self._find_quietly(trader, msg)))
            return
        except _CancelRefused as exc:
            reply("9", self.reports.cancel_reject(request, exc.reason, exc.text, now,
                                                  exc.order))
            return
        if order.owner is None:
            order.owner = trader.owner  # its reports now come here too
        request = Pending(trader.owner, kind, request.cl_ord_id, order.order_id,
                          request.orig_cl_ord_id or order.cl_ord_id)

        def refused(text: str) -> None:
            reply("9", self.reports.cancel_reject(request, OTHER, text, now, order))
        self._submit(command, request, refused)

    def _replace(self, account: int, order: Order, msg: Message, trader: Trader) -> object:
        fields = orders.order_fields(msg, self._instrument, trader.product)
        symbol = self.reports.symbols()[fields.instrument]
        same = (symbol == order.symbol and int(fields.side) == order.side
                and fields.type == OrderType(order.type) and fields.tif == TimeInForce(order.tif))
        if not same:
            raise _CancelRefused(OTHER, "ORDER_NOT_AMENDABLE: a replace may change the price, "
                                 "quantity, stop price and MaxFloor only", order)
        return orders.replace(account, order.order_id, fields)

    def _status(self, trader: Trader, msg: Message, now: int, reply: Reply) -> None:
        cl_ord_id = msg.get(11) or ""
        try:
            order = self._find(trader.account(msg), msg)
        except RefusedError:
            order = None
        if order is None:
            reply("8", self.reports.unknown_status(trader.accounts[0], cl_ord_id,
                                                   msg.get(55) or "", msg.get(54) or "", now))
        else:
            reply("8", self.reports.status_report(order, cl_ord_id, now))

    def _mass_cancel(self, trader: Trader, msg: Message, now: int, reply: Reply) -> None:
        mass_type, symbol = msg.get(530) or "", msg.get(55) or ""
        request = Pending(trader.owner, "q", msg.get(11) or "", mass_type=mass_type,
                          symbol=symbol)
        try:
            account = trader.account(msg)
            if mass_type == "7":
                instrument = ALL_INSTRUMENTS
            elif mass_type == "1":
                found = self._instrument(symbol)
                if found is None:
                    raise RefusedError(1, f"UNKNOWN_INSTRUMENT: no instrument {symbol!r}")
                instrument = found
            else:
                raise RefusedError(99, "INVALID_FIELD: MassCancelRequestType must be 1 "
                                   "(by symbol) or 7 (all)")
        except RefusedError as exc:
            reply("r", self._mass_refusal(request, exc.reason, exc.text))
            return
        self._follow_open_orders(account, trader.owner)

        def refused(text: str) -> None:
            reply("r", self._mass_refusal(request, 99, text))
        self._submit(CancelAll(account, instrument), request, refused)

    # --- helpers -------------------------------------------------------------------------------

    def _submit(self, command: object, request: Pending,
                refused: Callable[[str], None]) -> None:
        """Hold the command for `submit_held`, which queues everything one read of the
        socket brought as one submission (one receipt for all of them)."""
        self._held.append((command, request, refused))

    def submit_held(self) -> asyncio.Future[Any] | None:
        """Queue what was held as one submission; its receipt, None if nothing was queued."""
        held, self._held = self._held, []
        if not held:
            return None
        if self.node.backlog >= self.max_backlog:
            for _, _, refused in held:
                refused("SERVER_BUSY: too many requests are waiting; retry later")
            return None
        try:
            receipt = self.node.enqueue([command for command, _, _ in held])
        except RuntimeError:
            for _, _, refused in held:
                refused("SHUTTING_DOWN: the server is stopping")
            return None

        def durable(future: asyncio.Future[Any]) -> None:
            failure = None if future.cancelled() else future.exception()
            if isinstance(failure, InvalidCommandError) and len(held) > 1:
                for one in held:  # find the one the core could not take: each on its own
                    self._held.append(one)
                    self.submit_held()
                return
            if future.cancelled() or failure is not None:
                for _, _, refused in held:
                    refused("OUTCOME_UNKNOWN: the command was not applied")
                return
            first = future.result().first_seq
            for offset, (_, request, _) in enumerate(held):
                self.reports.expect(first + offset, request)
        receipt.add_done_callback(durable)
        return receipt

    def _instrument(self, symbol: str) -> int | None:
        core = self.node.core
        return None if core is None else core.instrument_id(symbol)

    def _find(self, account: int, msg: Message) -> Order | None:
        """The order a F, G or H names by OrderID(37) or OrigClOrdID(41) (ClOrdID(11) for a
        status request), also one entered on another channel."""
        given = msg.get(37) or ""
        order_id = int(given) if given.isdigit() else 0
        name = msg.get(41) or (msg.get(11) if msg.msg_type == "H" else "") or ""
        return self._known(account, order_id, name)

    def _known(self, account: int, order_id: int, name: str) -> Order | None:
        """The account's order with this id or ClOrdID, as the reports follow it or, entered
        before a restart or on another channel, from the gateway's records."""
        found = self.reports.find(account, order_id, name)
        if found is not None:
            return found
        record = self.accounts.order(account, order_id, name if not order_id else "")
        if record is None:
            return None
        adopted = from_record(record)
        if adopted.leaves:
            self.reports.adopt(adopted)
        return adopted

    def _find_quietly(self, trader: Trader, msg: Message) -> Order | None:
        try:
            return self._find(trader.account(msg), msg)
        except RefusedError:
            return None

    def _follow_open_orders(self, account: int, owner: str) -> None:
        """Before a mass cancel: follow the account's open orders from other channels, so
        that each cancellation is reported."""
        for record in self.accounts.open_orders(account):
            if self.reports.find(account, record.order_id) is None:
                order = from_record(record)
                order.owner = owner
                self.reports.adopt(order)

    def _mass_refusal(self, request: Pending, reason: int, text: str) -> list[tuple[int, Any]]:
        body: list[tuple[int, Any]] = [(11, request.cl_ord_id), (37, request.cl_ord_id or "NONE"),
                                       (530, request.mass_type or "0"), (531, "0"),
                                       (532, reason), (58, text)]
        return body


class _CancelRefused(Exception):  # noqa: N818 - control flow inside this module only
    def __init__(self, reason: int, text: str, order: Order | None = None) -> None:
        super().__init__(text)
        self.reason, self.text, self.order = reason, text, order


_STATUS = {"OPEN": "0", "TRIGGER_PENDING": "0", "PARTIALLY_FILLED": "1", "FILLED": "2",
           "CANCELLED": "4", "EXPIRED": "C", "REJECTED": "8"}
_SIDE = {"BUY": 1, "SELL": 2}


def from_record(record: Any) -> Order:
    """A `Reports` order from the gateway's record of it (an order from another channel or
    from before a restart); its traded value is estimated from the average price."""
    order = Order(record.order_id, record.account, record.symbol, _SIDE.get(record.side, 1),
                  record.qty, record.price, record.trigger,
                  int(OrderType[record.type]) if record.type else int(OrderType.LIMIT),
                  int(TimeInForce[record.tif]) if record.tif else int(TimeInForce.DAY),
                  record.client_order_id, None, leaves=record.leaves)
    order.cum = record.filled
    order.cost = record.average_price * record.filled
    order.status = _STATUS.get(record.status, "0")
    order.names = [record.client_order_id] if record.client_order_id else []
    return order
