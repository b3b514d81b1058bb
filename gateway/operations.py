"""The operations of the WebSocket API and their dispatch for one connection.

Each request is rate limited, decoded, checked for login and scope, then run. Trading
operations are queued to the node at once, in the order they arrived, and answered when
their commands are durable; the connection keeps reading meanwhile, so replies to
pipelined requests may come in any order (their ``id`` says which is which).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from accounts.registry import Scope, scope_names
from accounts.users import ROLE_SCOPES
from engine.commands import InvalidCommandError
from engine.types import Phase
from gateway import ops
from gateway.admin_ops import AdminOperations
from gateway.auth import LoginArgs
from gateway.connection import Connection
from gateway.errors import ApiError, GatewayCode, error_body
from gateway.feeds import Channel
from gateway.protocol import BadFrameError, Request, decode_requests
from gateway.sessions import USER_PREFIX

if TYPE_CHECKING:
    from gateway.server import Gateway

Handler = Callable[[Connection, dict], Awaitable[Any]]
QuickHandler = Callable[[Connection, dict], Any]
log = logging.getLogger(__name__)
PUBLIC_KINDS = ("ticker", "depth", "trades", "candles")
PRIVATE_CHANNELS = ("orders", "fills", "positions", "funds")
# Submissions waiting for the node beyond which frames are no longer answered as they are
# read: they queue for the connection's handler task, whose bounded queue stops reading
# from the socket, so a client sending faster than the node commits is slowed down by TCP
# (as it always was) instead of piling requests up until they are refused as SERVER_BUSY.
INLINE_BACKLOG = 1_024


@dataclass(slots=True)
class Durable:
    """A trading request's command, queued; its reply is built from the receipt."""

    receipt: asyncio.Future[Any]
    answer: Callable[[Any], Any]
    started: float


class TokenLogin(ops.Args):
    token: str


class PasswordLogin(ops.Args):
    username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]


class Operations:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.admin = AdminOperations(gateway.admin)
        # name -> (handler, scope it needs; None: no login needed). The quick ones never
        # wait: a trading request's reply comes later from its receipt's callback.
        self.quick: dict[str, tuple[QuickHandler, Scope | None]] = {
            "ping": (self.ping, None),
            "time": (self.ping, None),
            "instruments": (self.instruments, None),
            "subscribe": (self.subscribe, None),
            "unsubscribe": (self.unsubscribe, None),
            "place": (self.place, Scope.TRADE),
            "amend": (self.amend, Scope.TRADE),
            "cancel": (self.cancel, Scope.TRADE),
            "cancel_all": (self.cancel_all, Scope.TRADE),
            "order": (self.order, Scope.READ),
            "orders": (self.orders, Scope.READ),
            "positions": (self.positions, Scope.READ),
            "funds": (self.funds, Scope.READ),
        }
        self.waiting: dict[str, tuple[Handler, Scope | None]] = {
            "login": (self.login, None),
            "accounts": (self.admin.accounts, Scope.ADMIN),
            "create_account": (self.admin.create_account, Scope.ADMIN),
            "fund": (self.admin.fund, Scope.ADMIN),
            "new_key": (self.admin.new_key, Scope.ADMIN),
            "revoke_key": (self.admin.revoke_key, Scope.ADMIN),
            "set_user": (self.admin.set_user, Scope.ADMIN),
        }

    # --- dispatch ------------------------------------------------------------------------------

    async def dispatch(self, conn: Connection, frame: bytes | str) -> None:
        metrics = self.gw.metrics
        try:
            requests = decode_requests(frame, conn.fmt, conn.limits.max_frame)
        except BadFrameError as exc:
            limited = not await self.gw.allows(conn)
            metrics.inc("gridworks_ws_requests_total")
            code = GatewayCode.RATE_LIMITED if limited else exc.code
            metrics.inc("gridworks_ws_errors_total", code=code.name)
            conn.reply(exc.request_id, error=error_body(code) if limited else exc.body())
            return
        for request in requests:
            await self._handle(conn, request)

    def answer_now(self, conn: Connection, frame: bytes | str) -> bool:
        """Handle ``frame`` at once, in the caller's turn, if none of its requests can wait
        (quick operations, and rate limits this process decides alone) and the node is
        keeping up. False: nothing was done, and the frame must go through `dispatch`."""
        if self.gw.node.backlog >= INLINE_BACKLOG:
            return False
        try:
            requests = decode_requests(frame, conn.fmt, conn.limits.max_frame)
        except BadFrameError:
            return False  # `dispatch` answers it, after its rate check
        quick = self.quick
        for request in requests:
            if request.op not in quick:
                return False
        if conn.key_id and self.gw.key_limiter.spendable_now(conn.key_id) < len(requests):
            return False
        metrics = self.gw.metrics
        for request in requests:
            metrics.inc("gridworks_ws_requests_total")
            if not self.gw.allows_now(conn):
                self._rate_limited(conn, request)
                continue
            self._run_quick(conn, request, *quick[request.op])
        return True

    async def _handle(self, conn: Connection, request: Request) -> None:
        self.gw.metrics.inc("gridworks_ws_requests_total")
        if not await self.gw.allows(conn):
            self._rate_limited(conn, request)
            return
        quick = self.quick.get(request.op)
        if quick is not None:
            self._run_quick(conn, request, *quick)
            return
        entry = self.waiting.get(request.op)
        try:
            if entry is None:
                raise ApiError(GatewayCode.UNKNOWN_OP, f"no operation {request.op!r}")
            handler, scope = entry
            self._check_scope(conn, scope)
            result = await handler(conn, request.args)
        except Exception as exc:
            self._failed(conn, request, exc)
            return
        self._deliver(conn, request.id, result)

    def _run_quick(self, conn: Connection, request: Request, handler: QuickHandler,
                   scope: Scope | None) -> None:
        try:
            self._check_scope(conn, scope)
            result = handler(conn, request.args)
        except Exception as exc:
            self._failed(conn, request, exc)
            return
        self._deliver(conn, request.id, result)

    @staticmethod
    def _check_scope(conn: Connection, scope: Scope | None) -> None:
        if scope is not None:
            if conn.account < 0:
                raise ApiError(GatewayCode.NOT_LOGGED_IN)
            if not conn.scopes & scope.value:  # plain ints: Flag arithmetic is slow
                raise ApiError(GatewayCode.SCOPE_DENIED, needs=scope.name.lower())

    def _rate_limited(self, conn: Connection, request: Request) -> None:
        self.gw.metrics.inc("gridworks_ws_errors_total", code="RATE_LIMITED")
        conn.reply(request.id, error=error_body(GatewayCode.RATE_LIMITED))

    def _failed(self, conn: Connection, request: Request, exc: Exception) -> None:
        metrics = self.gw.metrics
        if isinstance(exc, ApiError):
            metrics.inc("gridworks_ws_errors_total", code=exc.code.name)
            conn.reply(request.id, error=exc.body())
            return
        # a bug must cost one request, not the connection
        log.error("operation %r failed", request.op, exc_info=exc)
        metrics.inc("gridworks_ws_errors_total", code="INTERNAL_ERROR")
        conn.reply(request.id, error=error_body(GatewayCode.INTERNAL_ERROR))

    def _deliver(self, conn: Connection, request_id: Any, result: Any) -> None:
        if isinstance(result, Durable):
            self._reply_when_durable(conn, request_id, result)
        else:
            conn.reply(request_id, result)

    def _reply_when_durable(self, conn: Connection, request_id: Any, pending: Durable) -> None:
        """Answer straight from the receipt's callback, ahead of the batch's feeds."""
        metrics = self.gw.metrics

        def durable(future: asyncio.Future[Any]) -> None:
            metrics.observe("gridworks_command_ack_seconds", time.perf_counter() - pending.started)
            try:
                if future.cancelled():
                    raise ApiError(GatewayCode.OUTCOME_UNKNOWN)
                failure = future.exception()
                if isinstance(failure, InvalidCommandError):
                    raise ApiError(GatewayCode.INVALID_ARGS,
                                   "a value does not fit the order's fields")
                if failure is not None:
                    raise ApiError(GatewayCode.OUTCOME_UNKNOWN)
                conn.reply(request_id, pending.answer(future.result()))
            except ApiError as exc:
                metrics.inc("gridworks_ws_errors_total", code=exc.code.name)
                conn.reply(request_id, error=exc.body())
            except Exception:
                log.exception("a durable reply failed")
                conn.reply(request_id, error=error_body(GatewayCode.OUTCOME_UNKNOWN))

        pending.receipt.add_done_callback(durable)

    # --- session -------------------------------------------------------------------------------

    async def login(self, conn: Connection, args: dict) -> dict:
        """With an API key's signature, a user's access token (``{"token": ...}``) or a
        user's name and password (``{"username": ..., "password": ...}``)."""
        if conn.account >= 0:
            raise ApiError(GatewayCode.ALREADY_LOGGED_IN)
        if "username" in args:
            login = ops.parse(args, PasswordLogin)
            user = await self.gw.password_user(login.username, login.password)
            scopes = ROLE_SCOPES.get(user.role, 0)
            if user.account < 0:
                raise ApiError(GatewayCode.SCOPE_DENIED, "the user has no account to trade")
            self.gw.attach(conn, user.account, USER_PREFIX + user.username, scopes)
            name = self.gw.core.registry.accounts[user.account].name
            return {"account": user.account, "name": name, "scopes": scope_names(scopes),
                    "user": user.username, "role": user.role}
        if "token" in args:
            token = ops.parse(args, TokenLogin).token
            claims = await self.gw.tokens.verify(token)
            if claims.account < 0:
                raise ApiError(GatewayCode.SCOPE_DENIED, "the user has no account to trade")
            self.gw.attach(conn, claims.account, USER_PREFIX + claims.username, claims.scopes)
            conn.session = claims.sid
            account, scopes = claims.account, claims.scopes
        else:
            login = ops.parse(args, LoginArgs)
            record = self.gw.auth.login(login, conn.ip)
            await self.gw.auth.claim(login.key_id, login.nonce)
            self.gw.attach(conn, record.account, record.grant.key_id, record.grant.scopes)
            account, scopes = record.account, record.grant.scopes
        name = self.gw.core.registry.accounts[account].name
        return {"account": account, "name": name, "scopes": scope_names(scopes)}

    def ping(self, conn: Connection, args: dict) -> dict:
        return {"time": time.time_ns(), "seq": self.gw.core.last_seq}

    def instruments(self, conn: Connection, args: dict) -> list[dict]:
        core = self.gw.core
        return [{"symbol": s.symbol, "name": s.name, "segment": s.segment, "tick": s.tick,
                 "lot": s.lot, "freeze_qty": s.freeze_qty, "ref_price": s.ref_price,
                 "band": [s.band_lo, s.band_hi], "products": sorted(p.name.lower()
                                                                     for p in s.products),
                 "phase": Phase(core.book.phase(i)).name} for i, s in enumerate(core.specs)]

    # --- subscriptions -------------------------------------------------------------------------

    def subscribe(self, conn: Connection, args: dict) -> dict:
        parsed = ops.parse(args, ops.SubscribeArgs)
        channels = [self._channel(conn, name) for name in parsed.channels]
        fresh = {c.name for c in channels if c.name not in conn.subscriptions}
        if len(conn.subscriptions) + len(fresh) > self.gw.config.limits.max_subscriptions:
            raise ApiError(GatewayCode.TOO_MANY_SUBSCRIPTIONS,
                           limit=self.gw.config.limits.max_subscriptions)
        # Sequence numbers belong to one run of the gateway: a resume point from another
        # run (its epoch differs) could name messages this run never sent.
        resume = parsed.resume if parsed.epoch == self.gw.epoch else {}
        result = {}
        for channel in dict.fromkeys(channels):  # a name given twice counts once
            conn.subscriptions[channel.name] = channel
            channel.subscribers.add(conn)
            result[channel.name] = self.gw.catch_up(conn, channel, resume.get(channel.name))
        return {"subscribed": result, "epoch": self.gw.epoch}

    def unsubscribe(self, conn: Connection, args: dict) -> dict:
        parsed = ops.parse(args, ops.UnsubscribeArgs)
        gone = []
        for name in parsed.channels:
            channel = conn.subscriptions.pop(name, None)
            if channel is not None:
                channel.subscribers.discard(conn)
                conn.conflated.discard(channel)
                gone.append(name)
        return {"unsubscribed": gone}

    def _channel(self, conn: Connection, name: str) -> Channel:
        if name in PRIVATE_CHANNELS:
            if conn.account < 0:
                raise ApiError(GatewayCode.NOT_LOGGED_IN, channel=name)
            if not conn.scopes & Scope.READ:
                raise ApiError(GatewayCode.SCOPE_DENIED, needs="read")
            return self.gw.feeds.private(name, conn.account)
        kind, _, rest = name.partition(".")
        if kind not in PUBLIC_KINDS or not self.gw.market.has_channel(name):
            symbol = rest.partition(".")[0]
            if kind in PUBLIC_KINDS and symbol not in self.gw.market.symbols:
                raise ApiError(GatewayCode.UNKNOWN_SYMBOL, channel=name)
            raise ApiError(GatewayCode.UNKNOWN_CHANNEL, channel=name)
        return self.gw.feeds.public(name)

    # --- trading -------------------------------------------------------------------------------

    def place(self, conn: Connection, args: dict) -> Durable:
        parsed = ops.parse(args, ops.PlaceArgs)
        instrument = self.gw.core.instrument_id(parsed.symbol)
        if instrument is None:
            raise ApiError(GatewayCode.UNKNOWN_SYMBOL, symbol=parsed.symbol)
        command = ops.new_order(conn.account, instrument, parsed)
        self.gw.metrics.inc("gridworks_orders_total")
        return self._submit(command, lambda receipt: ops.outcome(receipt.events,
                                                                  parsed.client_order_id))

    def amend(self, conn: Connection, args: dict) -> Durable:
        parsed = ops.parse(args, ops.AmendArgs)
        command = ops.amend(conn.account, parsed)
        return self._submit(command, lambda receipt: ops.outcome(receipt.events,
                                                                  command.client_order_id))

    def cancel(self, conn: Connection, args: dict) -> Durable:
        parsed = ops.parse(args, ops.OrderRef)
        command = ops.cancel(conn.account, parsed)
        return self._submit(command, lambda receipt: ops.outcome(receipt.events,
                                                                  command.client_order_id))

    def cancel_all(self, conn: Connection, args: dict) -> Durable:
        parsed = ops.parse(args, ops.CancelAllArgs)
        instrument = None
        if parsed.symbol is not None:
            instrument = self.gw.core.instrument_id(parsed.symbol)
            if instrument is None:
                raise ApiError(GatewayCode.UNKNOWN_SYMBOL, symbol=parsed.symbol)
        command = ops.cancel_all(conn.account, instrument)
        return self._submit(command, lambda receipt: {
            "cancelled": ops.cancelled_ids(receipt.events)})

    def _submit(self, command: object, answer: Callable[[Any], Any]) -> Durable:
        """Queue the command now; it is answered by ``answer(receipt)`` once durable."""
        started = time.perf_counter()
        limit = self.gw.config.limits.max_backlog
        if self.gw.node.backlog >= limit:  # shed load now rather than answer in seconds
            raise ApiError(GatewayCode.SERVER_BUSY, backlog=limit)
        try:
            pending = self.gw.node.enqueue([command])  # type: ignore[list-item]
        except RuntimeError:  # the node is stopping or stopped
            raise ApiError(GatewayCode.SHUTTING_DOWN) from None
        return Durable(pending, answer, started)

    # --- queries -------------------------------------------------------------------------------

    def order(self, conn: Connection, args: dict) -> dict:
        parsed = ops.parse(args, ops.OrderRef)
        order_id, client_id = ops.ref(parsed)
        found = self.gw.accounts.order(conn.account, order_id, client_id)
        if found is None:
            raise ApiError(GatewayCode.ORDER_NOT_FOUND, order_id=order_id or None,
                           client_order_id=client_id or None)
        return msgspec.to_builtins(found)

    def orders(self, conn: Connection, args: dict) -> list:
        ops.parse(args, ops.NoArgs)
        return msgspec.to_builtins(self.gw.accounts.open_orders(conn.account))

    def positions(self, conn: Connection, args: dict) -> dict:
        ops.parse(args, ops.NoArgs)
        return msgspec.to_builtins(self.gw.accounts.positions(conn.account))

    def funds(self, conn: Connection, args: dict) -> dict:
        ops.parse(args, ops.NoArgs)
        return msgspec.to_builtins(self.gw.accounts.funds(conn.account))


