"""The WebSocket gateway: connections, publishing, heartbeats and the HTTP endpoints.

It runs on the node's event loop (uvloop in production) and talks to the node through
`enqueue` (commands) and a listener (durable batches and their events). Each durable batch
updates the public market data and the private account feeds, and every changed channel
publishes one message, encoded once per wire format. The same port answers plain HTTP
(`gateway.http_endpoints`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import numpy as np
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from accounts import users
from engine.codes import RejectCode
from engine.commands import CommandBatch, UserGrant
from engine.core import Core
from engine.layout import E_A, E_KIND, E_TS
from engine.types import EventKind
from gateway import http_endpoints
from gateway.admin_ops import AdminService
from gateway.auth import Authenticator, NonceLedger
from gateway.connection import Connection
from gateway.errors import ApiError, GatewayCode, error_body
from gateway.feeds import Channel, Feeds, Published
from gateway.inline import InlineConnection
from gateway.limits import KeyLimiter, Limits, LocalKeyLimiter
from gateway.metrics import Metrics
from gateway.operations import Operations
from gateway.private import AccountFeeds
from gateway.sessions import USER_PREFIX, MemorySessions, SessionStore, TokenIssuer
from gateway.static import StaticFiles
from marketdata.hub import MarketData

log = logging.getLogger("gridworks.gateway")
HARD_MAX_FRAME = 1 << 20  # beyond this the library closes the connection (1009)
CLOSE_REVOKED = int(GatewayCode.UNKNOWN_KEY)  # close codes carry the error's number
_REJECTED = int(EventKind.REJECTED)
_KEY_REVOKED = int(EventKind.API_KEY_REVOKED)
_USER_SET = int(EventKind.USER_SET)  # a user deactivated: its connections go too
CLOSE_LIMIT = int(GatewayCode.TOO_MANY_CONNECTIONS)
CLOSE_RESTART = 1012  # service restart


class CommandSink(Protocol):
    """What the gateway needs of a node."""

    core: Core | None
    listeners: list[Callable[[CommandBatch, np.ndarray], None]]

    @property
    def backlog(self) -> int: ...
    def enqueue(self, commands: list) -> asyncio.Future: ...
    def status(self) -> dict[str, object]: ...


# Checked instead when a login names no user, so both answers take the same time.
DECOY_USER = UserGrant("nobody", -1, "trader", users.HASHER.hash("not a password of anyone"))


@dataclass(frozen=True)
class GatewayConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    limits: Limits = field(default_factory=Limits)
    depth_levels: int = 20
    retention: int = 1_000  # messages kept per channel for resume
    web_root: Path | None = None  # a built web client to serve at / (None: a short notice)
    key_limiter: KeyLimiter | None = None  # per-key message limit (None: this process's own)
    sessions: SessionStore | None = None  # users' sessions (None: this process's memory)
    nonces: NonceLedger | None = None  # signature nonces of every process (None: only own)
    # Cluster gateways: every channel, public and private, numbered from the first command
    # of the shard's log, so every gateway reading the log numbers it alike and a client
    # may resume on any of them (see `Gateway.log_epoch`). It costs every account's
    # private channels kept, whether anyone follows them here or not. Off: channels are
    # numbered by this run from when someone first subscribes, and resume points hold
    # only here.
    numbered_by_log: bool = False
    shard: int = 0  # the log's shard, part of the epoch when numbered by the log


def client_address(ws: ServerConnection, trusted_proxies: tuple[str, ...]) -> str:
    """The client's address: the peer's, or what a trusted proxy says it is."""
    peer = ws.remote_address[0] if ws.remote_address else "?"
    forwarded = ws.request.headers.get("X-Forwarded-For", "") if ws.request else ""
    return http_endpoints.forwarded_address(peer, forwarded, trusted_proxies) or peer


def log_epoch(first_ts_ns: int, shard: int) -> int:
    """The epoch of channels numbered by a shard's log: the time of its first command in
    ms, times 1,000, plus the shard — the same on every gateway of the shard, different
    for another shard or a new log (and still exact in a JavaScript number)."""
    return first_ts_ns // 1_000_000 * 1_000 + shard


class Gateway:
    def __init__(self, node: CommandSink, kek: bytes, config: GatewayConfig | None = None,
                 status: Callable[[], dict] | None = None,
                 admin: AdminService | None = None) -> None:
        self.node = node
        self.admin = admin  # serves the admin-scope operations (None: they are refused)
        self.config = config or GatewayConfig()
        assert node.core is not None, "start the node first"
        self.core: Core = node.core
        self.metrics = Metrics()
        self.feeds = Feeds(self.config.retention)
        self.market = MarketData(self.core.specs, self.core.book.state(),
                                 self.config.depth_levels, started_ns=time.time_ns())
        self.accounts = AccountFeeds(self.core)
        self.auth = Authenticator(lambda: self.core.registry, kek,
                                  self.config.limits.login_window_ms,
                                  shared=self.config.nonces)
        self.tokens = TokenIssuer(kek, self.config.sessions or MemorySessions())
        self.operations = Operations(self)
        root = self.config.web_root
        self.static = StaticFiles(root) if root is not None and root.is_dir() else None
        # Names this run's channel sequence numbers: ms since the epoch, which clients in
        # every language hold exactly.
        self.epoch = time.time_ns() // 1_000_000
        self.connections: set[Connection] = set()
        # Called with each batch's public messages (the Redis fan-out to relay gateways).
        self.public_sinks: list[Callable[[list[Published]], None]] = []
        self._batch_held: set[Connection] = set()  # updates held until the batch is out
        self._by_key: Counter[str] = Counter()
        self._by_ip: Counter[str] = Counter()
        rate = self.config.limits.key_messages_per_s
        self.key_limiter: KeyLimiter = self.config.key_limiter or LocalKeyLimiter(rate, 2 * rate)
        self._server: Server | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self.node_status = status or node.status
        self.extra_status: dict[str, Callable[[], object]] = {}  # more parts of /status
        self.metrics.gauge("gridworks_ws_connections", lambda: len(self.connections),
                           "open WebSocket connections")
        self.metrics.gauge("gridworks_core_seq", lambda: self.core.last_seq,
                           "last sequence number applied")
        self.metrics.gauge("gridworks_ws_queued_bytes",
                           lambda: sum(c.queued for c in self.connections),
                           "bytes waiting in connections' outbound queues")

    # --- lifecycle -----------------------------------------------------------------------------

    def follow(self) -> None:
        """Take the node's batches from now on (called before `start` when the numbering
        must see the log from its first entry)."""
        if self._on_batch not in self.node.listeners:
            self.node.listeners.append(self._on_batch)

    async def start(self) -> None:
        self.follow()
        self._server = await serve(
            self._handle, self.config.host, self.config.port, compression=None,
            max_size=HARD_MAX_FRAME, max_queue=64, process_request=self._http,
            ping_interval=20, ping_timeout=20, server_header="GridWorks",
            write_limit=self.config.limits.write_buffer, create_connection=InlineConnection,
        )
        self._heartbeat = asyncio.create_task(self._heartbeats(), name="gw-heartbeat")

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self, reconnect_after_ms: int = 1_000) -> None:
        """Tell every client that the server is going away and when to come back, then
        close the connections."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        now = time.time_ns()
        for conn in list(self.connections):
            conn.push("system", {"shutdown": {"reconnect_after_ms": reconnect_after_ms}}, now)
        await asyncio.sleep(0.05)  # let the notices go out
        for conn in list(self.connections):
            conn.close(CLOSE_RESTART, "server restart")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._on_batch in self.node.listeners:
            self.node.listeners.remove(self._on_batch)

    # --- publishing ----------------------------------------------------------------------------

    def _on_batch(self, batch: CommandBatch, events: np.ndarray) -> None:
        if not len(events):
            return
        rows = events.tolist()  # once: every consumer below walks the same rows
        if self.config.numbered_by_log and batch.first_seq == 1:
            self.epoch = log_epoch(rows[0][E_TS], self.config.shard)
        try:
            self._publish(batch, rows)
        finally:
            held = self._batch_held
            for conn in held:  # everything this batch gave a connection, in one write
                conn.flush_held()
            held.clear()
        revoked = False
        for row in rows:
            kind = row[E_KIND]
            if kind == _REJECTED:
                self.metrics.inc("gridworks_rejects_total", code=RejectCode(row[E_A]).name)
            elif kind in (_KEY_REVOKED, _USER_SET):
                revoked = True
        if revoked:
            self._close_revoked()

    def _publish(self, batch: CommandBatch, rows: list[list[int]]) -> None:
        ts = rows[0][E_TS]
        # A channel exists once someone has subscribed to it in this run; until then no
        # client can hold a resume point in it, so its updates need not be kept.
        channels = self.feeds.channels
        every_channel = self.config.numbered_by_log
        if self.public_sinks or every_channel:  # others number them too: number them all
            published = [self.feeds.public(name).publish(payload, ts)
                         for name, payload in self.market.apply(rows, self.core.specs)]
            for sink in self.public_sinks:
                sink(published)
        else:  # only channels someone follows (or followed) need their updates built
            for name, payload in self.market.apply(rows, self.core.specs, channels.__contains__):
                if (channel := channels.get(name)) is not None:
                    channel.publish(payload, ts)
        feeds = self.feeds
        kept = feeds.every if every_channel else feeds.exists
        with_channels = feeds.private_accounts
        for account, name, payload in self.accounts.apply(batch, rows, feeds.followed, kept):
            if every_channel:
                channel = feeds.private(name, account)
            elif account not in with_channels or (
                    channel := channels.get(f"{name}@{account}")) is None:
                continue
            if payload is not None:
                channel.publish(payload, ts)
            else:
                channel.invalidate()

    def _close_revoked(self) -> None:
        registry = self.core.registry
        live = {k.grant.key_id for k in registry.keys.values() if k.active}
        users = {USER_PREFIX + name for name, u in registry.users.items() if u.grant.active}
        for conn in list(self.connections):
            if not conn.key_id or conn.key_id in live or conn.key_id in users:
                continue
            self.auth.forget(conn.key_id)
            reason = "USER_DISABLED" if conn.key_id.startswith(USER_PREFIX) else "API_KEY_REVOKED"
            conn.push("system", {"logout": reason}, time.time_ns())
            conn.close(CLOSE_REVOKED, reason)

    async def end_session(self, sid: str) -> None:
        """A user's session ended (logout): its tokens stop working, and the connections
        that logged in with them here are closed."""
        await self.tokens.end(sid)
        for conn in list(self.connections):
            if conn.session == sid:
                conn.push("system", {"logout": "SESSION_ENDED"}, time.time_ns())
                conn.close(CLOSE_REVOKED, "SESSION_ENDED")

    def stats(self) -> dict[str, object]:
        """The gateway's part of ``/status``."""
        return {"epoch": self.epoch, "connections": len(self.connections),
                "logged_in": sum(1 for c in self.connections if c.account >= 0),
                "channels": sum(1 for c in self.feeds.channels.values() if c.subscribers),
                "queued_bytes": sum(c.queued for c in self.connections),
                "backlog": self.node.backlog, "key_limits": self.key_limiter.status()}

    def snapshot(self, channel: Channel) -> Published | None:
        """A channel's whole state now, stamped with its current sequence number."""
        if channel.public:
            data = self.market.snapshot(channel.name, time.time_ns())
        else:
            account = int(channel.key.rpartition("@")[2])
            data = self._private_snapshot(channel.name, account)
        return None if data is None else channel.snapshot_message(data, time.time_ns())

    def _private_snapshot(self, name: str, account: int) -> Any:
        if name == "orders":
            return self.accounts.open_orders(account)
        if name == "fills":
            return []
        if self.core.risk is None:
            return None
        return self.accounts.positions(account) if name == "positions" else (
            self.accounts.funds(account))

    def catch_up(self, conn: Connection, channel: Channel, resume_from: int | None) -> dict:
        """On subscribe: the missed messages after ``resume_from`` if still kept, else a
        snapshot; both go out before any later update of the channel."""
        if resume_from is not None:
            missed = channel.since(resume_from)
            if missed is not None:
                for message in missed:
                    conn.send(message)
                return {"seq": channel.seq, "resumed": True, "replayed": len(missed)}
        snapshot = self.snapshot(channel)
        if snapshot is not None:
            conn.send(snapshot)
        return {"seq": channel.seq, "resumed": False}

    # --- connections ---------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "/").query)
        fmt = "msgpack" if query.get("format") == ["msgpack"] else "json"
        ip = client_address(ws, self.config.limits.trusted_proxies)
        if self._by_ip[ip] >= self.config.limits.connections_per_ip:
            await ws.close(CLOSE_LIMIT, "TOO_MANY_CONNECTIONS")
            return
        if self.config.limits.socket_send_buffer:
            sock = ws.transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF,
                            self.config.limits.socket_send_buffer)
        conn = Connection(ws, fmt, ip, self.config.limits, self.snapshot, self._batch_held)
        self.connections.add(conn)
        self._by_ip[ip] += 1
        self.metrics.inc("gridworks_ws_connections_total")
        inline = ws if isinstance(ws, InlineConnection) else None
        if inline is not None:
            inline.answer_now = partial(self._answer_now, conn)
        try:
            async for frame in ws:  # the frames that could not be answered as they came
                try:
                    await self.operations.dispatch(conn, frame)
                except Exception:  # a bug costs this frame its answer, not the connection
                    log.exception("a frame could not be handled")
                    conn.reply(None, error=error_body(GatewayCode.INTERNAL_ERROR))
                finally:
                    if inline is not None:
                        inline.handled()
        except ConnectionClosed:
            pass
        finally:
            if inline is not None:
                inline.answer_now = None
            self._forget(conn)
            await conn.finish()

    def _answer_now(self, conn: Connection, frame: bytes | str) -> bool:
        try:
            return self.operations.answer_now(conn, frame)
        except Exception:  # as in the handler task: the frame's answer is lost, nothing more
            log.exception("a frame could not be handled")
            conn.reply(None, error=error_body(GatewayCode.INTERNAL_ERROR))
            return True

    def attach(self, conn: Connection, account: int, key_id: str, scopes: int) -> None:
        """A successful login binds the connection to an account, under a key (or a user's
        session: ``user:<name>``) that its limits and revocations follow."""
        if self._by_key[key_id] >= self.config.limits.connections_per_key:
            raise ApiError(GatewayCode.TOO_MANY_CONNECTIONS, "too many connections for this key",
                           limit=self.config.limits.connections_per_key)
        conn.account, conn.key_id, conn.scopes = account, key_id, scopes
        self._by_key[key_id] += 1

    async def password_user(self, username: str, password: str) -> UserGrant:
        """The active user with this name and password (the check runs off the loop; an
        unknown name costs the same work, and gets the same answer, as a wrong password)."""
        record = self.core.registry.user(username)
        grant = record.grant if record is not None else DECOY_USER
        if not await users.check_password(grant, password) or record is None:
            raise ApiError(GatewayCode.BAD_PASSWORD)
        return record.grant

    async def allows(self, conn: Connection) -> bool:
        """The connection's and its key's message rates both have room for one more."""
        if not conn.bucket.take():
            return False
        if not conn.key_id:
            return True
        quick = self.key_limiter.take_leased(conn.key_id)
        return quick if quick is not None else await self.key_limiter.take(conn.key_id)

    def allows_now(self, conn: Connection) -> bool:
        """As `allows`, for a caller that has seen the key's limiter can answer without a
        round trip (`spendable_now`). Should a shared limiter's Redis come back in between,
        this one message passes on the local decision and the next one asks Redis."""
        if not conn.bucket.take():
            return False
        return not conn.key_id or self.key_limiter.take_leased(conn.key_id) is not False

    def _forget(self, conn: Connection) -> None:
        self.connections.discard(conn)
        self._by_ip[conn.ip] -= 1
        if conn.key_id:
            self._by_key[conn.key_id] -= 1
        for channel in conn.subscriptions.values():
            channel.subscribers.discard(conn)

    # --- heartbeats ----------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        """Every connection hears from the server at least once per ``heartbeat_s``: the
        time, the last sequence number of each channel it follows, and which instruments
        are stale (continuous trading, but nothing has happened for a while)."""
        interval = self.config.limits.heartbeat_s
        while True:
            await asyncio.sleep(interval)
            now = time.time_ns()
            stale = self.market.stale_symbols(now)
            for conn in list(self.connections):
                conn.heartbeats += 1
                seqs = {name: ch.seq for name, ch in conn.subscriptions.items()}
                conn.push("heartbeat", {"time": now, "epoch": self.epoch, "seqs": seqs,
                                        "stale": stale}, now, seq=conn.heartbeats)

    # --- HTTP ----------------------------------------------------------------------------------

    def _http(self, ws: ServerConnection, request: Request) -> Response | None:
        return http_endpoints.answer(self, ws, request)
