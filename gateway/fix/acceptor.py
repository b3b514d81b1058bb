"""The FIX acceptor: TCP connections (asyncio streams), each bound to one configured session
after its Logon, on the same node and core as the WebSocket gateway.

* A connection's first message must be a Logon for a configured SenderCompID with our
  TargetCompID, within ``logon_timeout_s``; a session already logged on refuses a second
  Logon by closing the new connection, so one connection at most speaks for a CompID pair.
* Credentials are checked before the session layer sees the Logon (a password's argon2
  check runs off the event loop).
* Every step's outbound messages go out in one write, and the session's state is saved
  after the step. Messages meant for a session that is not connected are numbered and
  stored all the same: at its next Logon the client sees the gap and asks for them.
* The inbound number saved never counts a message whose order is not yet durable: until the
  node has taken a read's orders, the saved number stays at that read's first message. A
  crash in between leaves the client's messages from there unseen, so after the restart
  the session asks for them again (ResendRequest) instead of losing their orders.
* Each durable batch of the node becomes ExecutionReports (`Reports`), sent to the session
  that entered the order and to every drop copy of the account.
* The acceptor trades on one core (a node's, or a cluster shard's replica on its gateway)
  or on several: a cluster's shards, each a `Market` of its own, in front of which a FIX
  router runs it. Then each order-entry message goes to the market owning its Symbol(55)
  (a mass cancel of everything to every market), and every market's reports come to the
  sessions alike: a session trades on every shard.
* Once a second the session schedule is checked: at the daily reset time a connected
  session is logged out and both sequence numbers start again at 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from accounts import keys
from accounts.registry import Scope
from accounts.users import HASHER
from engine.commands import CommandBatch
from engine.layout import E_KIND
from engine.types import EventKind, Product
from gateway.fix import orders
from gateway.fix.application import OrderEntry, Trader, from_record
from gateway.fix.codec import Body, Framer, Message
from gateway.fix.config import FixConfig, SessionConfig, session_day
from gateway.fix.reports import Order, Reports
from gateway.fix.session import Session, SessionState
from gateway.fix.store import SessionLog

if TYPE_CHECKING:
    from gateway.server import Gateway

log = logging.getLogger("gridworks.fix")
TICK_S = 0.1
MAX_QUEUED = 16 * 1024 * 1024  # bytes a client may leave unread before it is cut off
_REVOKING = (int(EventKind.API_KEY_REVOKED), int(EventKind.USER_SET))


class Market:
    """One core the acceptor trades on: its gateway (node, core, order records), the order
    entry that turns messages into its commands, and the reports of its events."""

    def __init__(self, gateway: Gateway, watched: Callable[[int], bool], exec_prefix: str,
                 max_backlog: int) -> None:
        self.gw = gateway
        self._symbols: list[str] = []
        self.reports = Reports(self.symbols, watched, exec_prefix)
        self.entry = OrderEntry(gateway.node, self.reports, gateway.accounts, max_backlog)

    def symbols(self) -> list[str]:
        specs = self.gw.core.specs
        if len(specs) != len(self._symbols):
            self._symbols = [s.symbol for s in specs]
        return self._symbols


class Endpoint:
    """One configured session: its state (kept across connections) and, while a client is
    logged on, its connection."""

    def __init__(self, config: SessionConfig, session: Session, log_file: SessionLog,
                 reset_at: Any) -> None:
        self.config = config
        self.session = session
        self.log = log_file
        self.reset_at = reset_at
        self.writer: asyncio.StreamWriter | None = None
        self.trader: Trader | None = None
        self.busy = False  # a Logon is being checked
        self.refusal: str | None = None  # what the credentials check found
        self.outbox: list[bytes] = []
        # (the first inbound number of a read, the receipts of the orders it brought), for
        # reads whose orders are not all durable yet
        self._unsettled: deque[tuple[int, list[asyncio.Future[Any]]]] = deque()

    @property
    def comp_id(self) -> str:
        return self.config.comp_id

    def queue(self, data: list[bytes]) -> None:
        if self.writer is not None:
            self.outbox += data

    def hold_back(self, first_in: int, receipts: list[asyncio.Future[Any]]) -> None:
        """A read from ``first_in`` on brought orders that are not durable yet."""
        self._unsettled.append((first_in, receipts))

    def settled_in(self) -> int:
        """The inbound number to save: the next one, or the first of the oldest read whose
        orders are not all durable yet (never above the next one: after a reset the numbers
        start again)."""
        unsettled, next_in = self._unsettled, self.session.state.next_in
        while unsettled and all(receipt.done() for receipt in unsettled[0][1]):
            unsettled.popleft()
        return min(unsettled[0][0], next_in) if unsettled else next_in

    def flush(self) -> None:
        """Save the state this step left, then write what it produced in one go (saved
        first: a client never sees a number the server could forget)."""
        self.log.save(self.session.state, self.settled_in())
        writer, data = self.writer, self.outbox
        if data and writer is not None and not writer.is_closing():
            writer.write(b"".join(data) if len(data) > 1 else data[0])
        self.outbox = []

    def disconnect(self) -> None:
        self.flush()
        writer, self.writer, self.trader = self.writer, None, None
        self.session.logged_on = False
        if writer is not None:
            writer.close()


class FixAcceptor:
    def __init__(self, gateway: Gateway | list[Gateway], config: FixConfig, data_dir: Path,
                 host: str, clock: Callable[[], int] = time.time_ns) -> None:
        gateways = gateway if isinstance(gateway, list) else [gateway]
        self.gw = gateways[0]  # accounts, keys and users are the same on every market
        self.config = config
        self.data_dir = data_dir
        self.host = config.host or host
        self.clock = clock
        # ExecIDs stay unique over restarts (each run numbers them after its start time)
        # and over markets (each has its own suffix).
        run = format(time.time_ns() // 1_000_000, "x")
        self.markets = [Market(g, self.watched, run if len(gateways) == 1 else f"{run}s{k}",
                               g.config.limits.max_backlog)
                        for k, g in enumerate(gateways)]
        self._owner: dict[str, Market] = {}  # symbol -> its market
        self.endpoints: dict[str, Endpoint] = {}
        self._drop_copies: dict[int, list[Endpoint]] = {}  # account -> its drop copies
        self._server: asyncio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self.garbled = 0

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        now = self.clock()
        for cfg in self.config.sessions:
            path = self.data_dir / "fix" / f"{self.config.comp_id}-{cfg.comp_id}.log"
            store = SessionLog(path, self.config.keep_messages)
            state = store.load()
            session = Session(self.config.comp_id, cfg.comp_id, state, lambda m: None,
                              self.config.max_skew_s * 1_000_000_000)
            endpoint = Endpoint(cfg, session, store, self.config.reset_time(cfg))
            session.authenticate = lambda _msg, e=endpoint: e.refusal
            self.endpoints[cfg.comp_id] = endpoint
            self._roll_day(endpoint, now)
        self._entitle()
        for market in self.markets:
            self._recover_orders(market)
            market.gw.node.listeners.append(market_listener(self, market))
        self._server = await asyncio.start_server(self._accept, self.host, self.config.port,
                                                  reuse_address=True)
        self._ticker = asyncio.create_task(self._tick(), name="fix-ticker")

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        now = self.clock()
        for endpoint in self.endpoints.values():
            if endpoint.writer is not None:
                endpoint.queue([endpoint.session.logout("the server is stopping", now)])
                endpoint.flush()
        await asyncio.sleep(0.05)  # let the Logouts go out
        for endpoint in self.endpoints.values():
            endpoint.disconnect()
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections.values()):
            writer.close()  # the connection's reader sees the end and its task finishes
        if self._connections:
            await asyncio.wait(list(self._connections), timeout=2.0)
        if self._server is not None:
            await self._server.wait_closed()
        for market in self.markets:
            market.gw.node.listeners[:] = [f for f in market.gw.node.listeners
                                           if getattr(f, "acceptor", None) is not self]
        for endpoint in self.endpoints.values():
            endpoint.log.save(endpoint.session.state)
            endpoint.log.close()

    def stats(self) -> dict[str, object]:
        return {"port": self.port, "sessions": {
            e.comp_id: {"logged_on": e.writer is not None, "next_in": e.session.state.next_in,
                        "next_out": e.session.state.next_out, "kind": e.config.kind}
            for e in self.endpoints.values()}, "garbled": self.garbled}

    # --- lookups -------------------------------------------------------------------------------

    def market_of(self, msg: Message) -> Market:
        """The market a message is for: the one owning its Symbol(55), else the first
        (which answers an unknown symbol as such)."""
        if len(self.markets) == 1:
            return self.markets[0]
        symbol = msg.get(55) or ""
        market = self._owner.get(symbol)
        if market is None:
            self._owner = {s: m for m in self.markets for s in m.symbols()}
            market = self._owner.get(symbol, self.markets[0])
        return market

    def submit_held(self) -> list[asyncio.Future[Any]]:
        """Queue what the last read brought, on every market; the receipts."""
        receipts = [market.entry.submit_held() for market in self.markets]
        return [receipt for receipt in receipts if receipt is not None]

    def watched(self, account: int) -> bool:
        return account in self._drop_copies

    def _entitle(self) -> None:
        """Which accounts each drop copy follows (accounts and keys may be added later:
        this runs again at every Logon)."""
        watch: dict[int, list[Endpoint]] = {}
        for endpoint in self.endpoints.values():
            if endpoint.config.drop_copy:
                for account in self._accounts_of(endpoint.config):
                    watch.setdefault(account, []).append(endpoint)
        self._drop_copies = watch

    def _accounts_of(self, cfg: SessionConfig) -> list[int]:
        registry = self.gw.core.registry
        if cfg.key_id:
            record = registry.keys.get(cfg.key_id)
            return [record.account] if record is not None else []
        found = [registry.account_named(name) for name in cfg.accounts]
        return [a.account for a in found if a is not None]

    def _recover_orders(self, market: Market) -> None:
        """After a restart: the open orders each session entered (its stored Execution
        Reports name them) are followed again, reported to it, and their traded value is
        summed from the trades it was told of."""
        feeds = market.gw.accounts
        for endpoint in self.endpoints.values():
            if endpoint.config.drop_copy:
                continue
            seen: dict[int, tuple[list[str], int, int]] = {}  # oid -> names, cum, cost
            for msg_type, body, _ in endpoint.session.state.sent.values():
                if msg_type != "8":
                    continue
                fields = fields_of(body)
                oid = fields.get(37, "")
                if not oid.isdigit():
                    continue
                names, cum, cost = seen.get(int(oid), ([], 0, 0))
                name = fields.get(11, "")
                if name and name not in names:
                    names.append(name)
                if fields.get(150) == "F":
                    qty = int(fields.get(32, "0"))
                    cum, cost = cum + qty, cost + qty * orders.paise(fields.get(31, "0"), "LastPx")
                seen[int(oid)] = (names, cum, cost)
            for oid, (names, cum, cost) in seen.items():
                record = feeds.live.get(oid)
                if record is None or not names:
                    continue
                order = _order_of(record, endpoint.comp_id, names)
                if cum == record.filled:
                    order.cost = cost
                market.reports.adopt(order)
        for account in self._drop_copies:
            for record in feeds.open_orders(account):
                if market.reports.find(account, record.order_id) is None:
                    names = [record.client_order_id] if record.client_order_id else []
                    market.reports.adopt(_order_of(record, None, names))

    # --- connections ---------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        endpoint: Endpoint | None = None
        try:
            endpoint = await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        except Exception:
            log.exception("a FIX connection failed")
        finally:
            self.submit_held()  # what the last read brought counts, closing or not
            self._connections.pop(task, None)
            if endpoint is not None and endpoint.writer is writer:
                endpoint.disconnect()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> Endpoint | None:
        framer = Framer()
        endpoint: Endpoint | None = None
        deadline = time.monotonic() + self.config.logon_timeout_s
        while True:
            if endpoint is None:
                data = await asyncio.wait_for(reader.read(65536),
                                              max(0.0, deadline - time.monotonic()))
            else:
                data = await reader.read(65536)
            if not data:
                return endpoint
            first_in = endpoint.session.state.next_in if endpoint is not None else 0
            for item in framer.feed(data):
                if not isinstance(item, Message):
                    self.garbled += 1  # ignored: the gap it leaves is resent
                    continue
                if endpoint is None:
                    endpoint = await self._logon(item, writer)
                    if endpoint is None:
                        return None
                    first_in = endpoint.session.state.next_in
                    continue
                if not self._step(endpoint, item):
                    self._submit_read(endpoint, first_in)
                    return endpoint
            if endpoint is not None:
                self._submit_read(endpoint, first_in)
                endpoint.flush()
                if writer.transport.get_write_buffer_size() > MAX_QUEUED:
                    log.warning("FIX session %s reads too slowly: disconnected",
                                endpoint.comp_id)
                    return endpoint

    async def _logon(self, msg: Message, writer: asyncio.StreamWriter) -> Endpoint | None:
        endpoint = self.endpoints.get(msg.get(49) or "")
        if msg.msg_type != "A" or endpoint is None or msg.get(56) != self.config.comp_id:
            log.warning("FIX connection refused: first message %r from %r to %r",
                        msg.msg_type, msg.get(49), msg.get(56))
            return None
        if endpoint.writer is not None or endpoint.busy:
            log.warning("FIX session %s: a second Logon refused", endpoint.comp_id)
            return None
        endpoint.busy = True
        try:
            peer = writer.get_extra_info("peername")
            refusal, trader = await self._credentials(endpoint.config, msg,
                                                      peer[0] if peer else None)
        finally:
            endpoint.busy = False
        now = self.clock()
        self._roll_day(endpoint, now)
        endpoint.refusal = refusal
        endpoint.session.connect()
        endpoint.writer = writer
        out = endpoint.session.receive(msg, now)
        endpoint.queue(out.send)
        if out.close or not out.logged_on:
            endpoint.disconnect()
            log.warning("FIX session %s: Logon refused (%s)", endpoint.comp_id, out.reason)
            return None
        endpoint.trader = trader
        self._entitle()
        endpoint.flush()
        log.info("FIX session %s logged on", endpoint.comp_id)
        return endpoint

    async def _credentials(self, cfg: SessionConfig, msg: Message,
                           address: str | None) -> tuple[str | None, Trader | None]:
        registry = self.gw.core.registry
        password = msg.get(554) or ""
        product = Product[cfg.product]
        if cfg.key_id:
            record = registry.active_key(cfg.key_id)
            if record is None:
                return "unknown or revoked API key", None
            secret = self.gw.auth.secret(record)
            good = msg.get(553) == cfg.key_id and hmac.compare_digest(password.encode(),
                                                                      secret.encode())
            if not good:
                return "wrong Username or Password", None
            needs = Scope.READ if cfg.drop_copy else Scope.TRADE
            if not record.grant.scopes & needs.value:
                return f"the key lacks the {needs.name.lower()} scope", None
            if not keys.ip_allowed(record.grant.ips, address):
                return "the key does not allow this address", None
            return None, Trader(cfg.comp_id, [record.account], {}, product, cfg.drop_copy)
        good = await asyncio.to_thread(_password_matches, cfg.password_hash, password)
        if not good:
            return "wrong Password", None
        accounts = self._accounts_of(cfg)
        if len(accounts) != len(cfg.accounts):
            return "a configured account does not exist", None
        names = {name.casefold(): number for name, number in zip(cfg.accounts, accounts,
                                                                 strict=True)}
        return None, Trader(cfg.comp_id, accounts, names, product, cfg.drop_copy)

    def _submit_read(self, endpoint: Endpoint, first_in: int) -> None:
        """Queue the orders one read brought; the saved inbound number waits for them."""
        receipts = self.submit_held()
        if receipts:
            endpoint.hold_back(first_in, receipts)

    def _step(self, endpoint: Endpoint, msg: Message) -> bool:
        """One inbound message; False when the connection must now close."""
        now = self.clock()
        session = endpoint.session
        out = session.receive(msg, now)
        endpoint.queue(out.send)
        trader = endpoint.trader
        if out.deliver and trader is not None:
            def reply(msg_type: str, body: Body) -> None:
                endpoint.queue([session.send_app(msg_type, body, self.clock())])
                if endpoint.writer is not None and len(endpoint.outbox) > 64:
                    endpoint.flush()
            for app in out.deliver:
                if app.msg_type == "q" and app.get(530) == "7":  # everything: every market
                    for market in self.markets:
                        market.entry.handle(trader, app, now, reply)
                else:
                    self.market_of(app).entry.handle(trader, app, now, reply)
        if out.close:
            log.info("FIX session %s: %s", endpoint.comp_id, out.reason)
            endpoint.disconnect()
            return False
        return True

    # --- the core's events ---------------------------------------------------------------------

    def on_batch(self, market: Market, batch: CommandBatch, events: np.ndarray) -> None:
        if not len(events) and not market.reports.masses:
            return
        rows = events.tolist()
        reports = market.reports.apply(batch, rows)
        if reports:
            now = self.clock()
            touched: set[Endpoint] = set()
            for report in reports:
                for endpoint in self._targets(report.account, report.owner, report.msg_type):
                    endpoint.outbox.append(endpoint.session.send_app(report.msg_type,
                                                                     report.body, now))
                    touched.add(endpoint)
            for endpoint in touched:
                if endpoint.writer is None:
                    endpoint.outbox = []
                endpoint.flush()
        if any(row[E_KIND] in _REVOKING for row in rows):
            self._end_revoked()

    def _targets(self, account: int, owner: str | None, msg_type: str) -> list[Endpoint]:
        targets = []
        if owner is not None and (endpoint := self.endpoints.get(owner)) is not None:
            targets.append(endpoint)
        if msg_type == "8":
            targets += [e for e in self._drop_copies.get(account, ()) if e.comp_id != owner]
        return targets

    def _end_revoked(self) -> None:
        registry = self.gw.core.registry
        now = self.clock()
        for endpoint in self.endpoints.values():
            key = endpoint.config.key_id
            if endpoint.writer is not None and key and registry.active_key(key) is None:
                endpoint.queue([endpoint.session.logout("API_KEY_REVOKED", now)])
                endpoint.disconnect()
        self._entitle()

    # --- time ----------------------------------------------------------------------------------

    async def _tick(self) -> None:
        last_schedule = 0.0
        while True:
            await asyncio.sleep(TICK_S)
            now = self.clock()
            for endpoint in self.endpoints.values():
                if endpoint.writer is None:
                    continue
                out = endpoint.session.tick(now)
                endpoint.queue(out.send)
                if out.close:
                    log.info("FIX session %s: %s", endpoint.comp_id, out.reason)
                    endpoint.disconnect()
                else:
                    endpoint.flush()
            if time.monotonic() - last_schedule >= 1.0:
                last_schedule = time.monotonic()
                self.roll_days(now)

    def roll_days(self, now: int) -> None:
        """Apply the session schedule at ``now`` (the ticker calls it once a second)."""
        for endpoint in self.endpoints.values():
            self._roll_day(endpoint, now)

    def _roll_day(self, endpoint: Endpoint, now: int) -> None:
        """At the session's daily reset time: log out, and start numbering again at 1."""
        day = session_day(now, endpoint.reset_at)
        state = endpoint.session.state
        if state.day == day:
            return
        if state.day and endpoint.writer is not None:
            endpoint.queue([endpoint.session.logout("end of the session day", now)])
            endpoint.disconnect()
        fresh = SessionState(day=day)
        state.next_in, state.next_out, state.sent, state.day = (
            fresh.next_in, fresh.next_out, {}, fresh.day)
        endpoint.log.rewrite(state)


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except Exception:  # a wrong password, or a hash this library cannot read
        return False


def fields_of(body: str) -> dict[int, str]:
    """Stored body fields (``tag=value<SOH>...``) by tag."""
    out: dict[int, str] = {}
    for part in body.split("\x01"):
        tag, _, value = part.partition("=")
        if tag.isdigit():
            out.setdefault(int(tag), value)
    return out


def _order_of(record: Any, owner: str | None, names: list[str]) -> Order:
    order = from_record(record)
    order.owner = owner
    order.names = list(names)
    order.cl_ord_id = names[-1] if names else ""
    return order


def market_listener(acceptor: FixAcceptor, market: Market) -> Callable[[CommandBatch,
                                                                         np.ndarray], None]:
    """The listener that hands a market's batches to the acceptor (marked as its own, so
    that `stop` removes it)."""
    def listener(batch: CommandBatch, events: np.ndarray) -> None:
        acceptor.on_batch(market, batch, events)
    listener.acceptor = acceptor  # type: ignore[attr-defined]
    return listener
