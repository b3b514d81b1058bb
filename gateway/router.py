"""The router: one WebSocket connection for a client of a cluster with several shards.

A client connects to any router and speaks the gateway's own protocol. For each client the
router holds one connection to a gateway of every shard (a *leg*), logs in on all of them
with the client's own signed login (every shard has the account and its keys, see
`gridworks.account_desk`), and routes each request to the shard it belongs to: an order
to the shard owning its instrument, a cancel or amend to the shard whose id the order
carries (`engine.sequencer.order_shard`), queries to every shard with their answers merged
(`gateway.routing`). Pushes come back from the legs as they are, private channels named
per shard. The router keeps nothing between connections: the shards' gateways number every
channel by their shard's log, so a client that reconnects to another router resumes where
it was.

When a leg's gateway goes away the client's connection is closed (1012, with the reason)
so that it reconnects — through any router, to any gateway of that shard — and resumes;
requests in flight on that leg are answered ``OUTCOME_UNKNOWN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.http11 import Request, Response

from gateway import routing
from gateway.client import Client
from gateway.errors import ApiError, ErrorBody, GatewayCode, error_body
from gateway.http_endpoints import json_response, same_origin
from gateway.protocol import BadFrameError, Format, Reply, decode_requests, encode, join
from gateway.routing import Directory

log = logging.getLogger("gridworks.router")
HARD_MAX_FRAME = 1 << 20
CLOSE_RESTART = 1012
CLOSE_SLOW = int(GatewayCode.SLOW_CONSUMER)
ACCOUNT_WIDE = ("create_account", "new_key", "revoke_key", "set_user")  # every shard at once
TRADING = ("place", "amend", "cancel", "cancel_all")
Answer = dict[str, Any]  # a reply from a leg: {"id", "ok", "result" | "error"}


class ShardGoneError(Exception):
    """A leg's gateway went away before it answered."""


class Leg:
    """A client's connection to one gateway of one shard."""

    def __init__(self, shard: int, ws: ClientConnection, fmt: Format,
                 on_push: Callable[[int, dict], None], on_gone: Callable[[int], None]) -> None:
        self.shard, self.ws, self.fmt = shard, ws, fmt
        self._on_push, self._on_gone = on_push, on_gone
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Answer]] = {}
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._read(), name=f"leg-{shard}-read"),
                       asyncio.create_task(self._write(), name=f"leg-{shard}-write")]

    def call(self, op: str, args: dict[str, Any]) -> asyncio.Future[Answer]:
        """Send a request now (requests to one leg go out in the order of these calls)."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        number = next(self._ids)
        self._pending[number] = future
        self._outbox.put_nowait(encode({"id": number, "op": op, "args": args}, self.fmt))
        return future

    async def _write(self) -> None:
        while True:
            frame = await self._outbox.get()
            await self.ws.send(frame if self.fmt == "msgpack" else frame.decode())

    async def _read(self) -> None:
        decode = msgspec.json.decode if self.fmt == "json" else msgspec.msgpack.decode
        try:
            async for frame in self.ws:
                items = decode(frame)
                for item in items if isinstance(items, list) else [items]:
                    if "ok" in item and "ch" not in item:
                        future = self._pending.pop(item.get("id"), None)
                        if future is not None and not future.done():
                            future.set_result(item)
                    else:
                        self._on_push(self.shard, item)
        except ConnectionClosed:
            pass
        except Exception:
            log.exception("leg to shard %d failed", self.shard)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ShardGoneError(self.shard))
            self._pending.clear()
            self._on_gone(self.shard)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self.ws.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class Router:
    def __init__(self, upstreams: dict[int, list[str]], host: str = "127.0.0.1",
                 port: int = 8090, max_queued: int = 8 << 20,
                 allowed_origins: tuple[str, ...] = ()) -> None:
        if not upstreams or any(not urls for urls in upstreams.values()):
            raise ValueError("every shard needs at least one gateway address")
        self.upstreams = upstreams
        self.host, self.port_wanted = host, port
        self.max_queued = max_queued  # bytes waiting for a client before it is closed
        self.allowed_origins = allowed_origins  # browser pages of other origins allowed
        self.directory = Directory(list(upstreams))
        self.sessions: set[Session] = set()
        self._turns = {shard: itertools.count() for shard in upstreams}  # round robin
        self._server: Server | None = None

    async def start(self) -> None:
        """Learn every shard's instruments and epoch from one of its gateways, then listen."""
        for shard in self.upstreams:
            await self._learn(shard)
        self._server = await serve(self._handle, self.host, self.port_wanted, compression=None,
                                   max_size=HARD_MAX_FRAME, server_header="GridWorks",
                                   ping_interval=20, ping_timeout=20,
                                   process_request=self._http)

    async def _learn(self, shard: int) -> None:
        client = Client(await self.dial(shard, "json", ""), "json")
        try:
            symbols = [i["symbol"] for i in await client.request("instruments")]
            subscribed = await client.request("subscribe", channels=[f"ticker.{symbols[0]}"])
        finally:
            await client.close()
        self.directory.learn(shard, symbols, subscribed["epoch"])

    async def dial(self, shard: int, fmt: Format, client_ip: str) -> ClientConnection:
        """A connection to one of the shard's gateways, trying each in turn."""
        urls = self.upstreams[shard]
        start = next(self._turns[shard])
        failure: Exception | None = None
        for i in range(len(urls)):
            url = urls[(start + i) % len(urls)]
            try:
                return await connect(f"{url}?format={fmt}", compression=None,
                                     max_size=HARD_MAX_FRAME, open_timeout=3,
                                     additional_headers={"X-Forwarded-For": client_ip}
                                     if client_ip else None)
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                failure = exc
        raise ShardGoneError(f"no gateway of shard {shard} answers: {failure}")

    def status(self) -> dict[str, Any]:
        d = self.directory
        return {"role": "router", "epoch": d.epoch, "sessions": len(self.sessions),
                "shards": {str(k): {"epoch": d.epochs.get(k), "gateways": self.upstreams[k],
                                    "instruments": sorted(s for s, o in d.owner.items()
                                                          if o == k)} for k in d.shards}}

    def _http(self, ws: ServerConnection, request: Request) -> Response | None:
        """Plain HTTP on the same port: ``/healthz`` and ``/status``; the rest upgrades,
        unless a browser page of a foreign origin asks (as the gateways check)."""
        path = urlsplit(request.path).path
        origin = request.headers.get("Origin")
        if origin is not None and not (origin in self.allowed_origins
                                       or same_origin(origin, request)):
            return json_response(ws, HTTPStatus.FORBIDDEN, {"error": "ORIGIN_NOT_ALLOWED"})
        if path == "/healthz":
            return ws.respond(200, "ok\n")
        if path == "/status":
            response = ws.respond(200, msgspec.json.encode(self.status()).decode() + "\n")
            response.headers["Content-Type"] = "application/json"
            return response
        return None

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for session in list(self.sessions):
            await session.close(CLOSE_RESTART, "router restart")
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path if ws.request else "/").query)
        fmt: Format = "msgpack" if query.get("format") == ["msgpack"] else "json"
        ip = ws.remote_address[0] if ws.remote_address else "?"
        session = Session(self, ws, fmt, ip)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            await session.finish()


class Session:
    """One client of the router and its legs."""

    def __init__(self, router: Router, ws: ServerConnection, fmt: Format, ip: str) -> None:
        self.router, self.ws, self.fmt, self.ip = router, ws, fmt, ip
        self.legs: dict[int, Leg] = {}
        self.placed: dict[str, int] = {}  # client order id -> shard, for orders sent here
        self.queued = 0
        self._beats = itertools.count(1)
        self._outbox: asyncio.Queue[bytes] = asyncio.Queue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.table: dict[str, Callable[[dict], Awaitable[Any]]] = {
            "login": self.login, "subscribe": self.subscribe,
            "unsubscribe": self.unsubscribe, "instruments": self.instruments,
            "place": self.place, "amend": functools.partial(self.by_order, "amend"),
            "cancel": functools.partial(self.by_order, "cancel"),
            "order": self.order, "cancel_all": self.cancel_all, "orders": self.orders,
            "positions": self.positions, "funds": self.funds,
        }

    # --- the client's side ---------------------------------------------------------------------

    async def run(self) -> None:
        directory = self.router.directory
        for shard in directory.shards:
            try:
                ws = await self.router.dial(shard, self.fmt, self.ip)
            except ShardGoneError:
                log.warning("a client starts without shard %d", shard)
                continue
            self.legs[shard] = Leg(shard, ws, self.fmt, self._pushed, self._gone)
        writer = asyncio.create_task(self._write(), name="router-write")
        try:
            async for frame in self.ws:
                self._frame(frame)
        except ConnectionClosed:
            pass
        finally:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def _frame(self, frame: bytes | str) -> None:
        try:
            requests = decode_requests(frame, self.fmt)
        except BadFrameError as exc:
            self._reply(exc.request_id, error=exc.body())
            return
        for request in requests:
            task = asyncio.create_task(self._request(request.id, request.op, request.args))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _request(self, request_id: Any, op: str, args: dict) -> None:
        try:
            handler = self.table.get(op)
            if handler is not None:
                result = await handler(args)
            elif op in ACCOUNT_WIDE:
                raise ApiError(GatewayCode.NOT_ROUTED, op=op)
            else:  # ping, time, history, admin reads: the home shard's gateway answers
                result = await self._one(self._home(), op, args)
        except ApiError as exc:
            self._reply(request_id, error=exc.body())
            return
        except ShardGoneError:  # a trading request may have reached the shard: unknown
            code = (GatewayCode.OUTCOME_UNKNOWN if op in TRADING
                    else GatewayCode.SHARD_UNAVAILABLE)
            self._reply(request_id, error=error_body(code))
            return
        except Exception:
            log.exception("routing %r failed", op)
            self._reply(request_id, error=error_body(GatewayCode.INTERNAL_ERROR))
            return
        self._reply(request_id, result)

    def _reply(self, request_id: Any, result: Any = None, error: ErrorBody | None = None) -> None:
        self._send(encode(Reply(request_id, error is None, result, error), self.fmt))

    def _send(self, frame: bytes) -> None:
        if self._closing:
            return
        self.queued += len(frame)
        if self.queued > self.router.max_queued:
            asyncio.get_running_loop().create_task(
                self.close(CLOSE_SLOW, "SLOW_CONSUMER"))
            return
        self._outbox.put_nowait(frame)

    async def _write(self) -> None:
        while True:
            frames = [await self._outbox.get()]
            while not self._outbox.empty() and len(frames) < 256:
                frames.append(self._outbox.get_nowait())
            self.queued -= sum(len(f) for f in frames)
            frame = join(frames, self.fmt)
            await self.ws.send(frame if self.fmt == "msgpack" else frame.decode())

    def _pushed(self, shard: int, push: dict) -> None:
        push = routing.rename_push(push, shard, self.router.directory.epoch)
        if push.get("ch") == "heartbeat":  # they count per connection: this one's
            push["seq"] = next(self._beats)
        self._send(encode(push, self.fmt))

    def _gone(self, shard: int) -> None:
        if not self._closing:
            asyncio.get_running_loop().create_task(
                self.close(CLOSE_RESTART, f"shard {shard}'s gateway went away: reconnect"))

    async def close(self, code: int, reason: str) -> None:
        if self._closing:
            return
        await asyncio.sleep(0.05)  # what is queued (the replies before it) goes out first
        self._closing = True
        with contextlib.suppress(Exception):
            await self.ws.close(code, reason)

    async def finish(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        for leg in self.legs.values():
            await leg.close()

    # --- talking to the shards -----------------------------------------------------------------

    def _home(self) -> int:
        return min(self.router.directory.shards)

    def _leg(self, shard: int) -> Leg:
        leg = self.legs.get(shard)
        if leg is None:
            raise ApiError(GatewayCode.SHARD_UNAVAILABLE, shard=shard)
        return leg

    async def _one(self, shard: int, op: str, args: dict) -> Any:
        return _result(await self._leg(shard).call(op, args))

    async def _every(self, op: str, args: dict,
                     shards: list[int] | None = None) -> dict[int, Any]:
        """The answers of every shard (all must succeed: the first error is the reply)."""
        targets = shards if shards is not None else self.router.directory.shards
        calls = {k: self._leg(k).call(op, args) for k in targets}
        answers = {k: await call for k, call in calls.items()}
        return {k: _result(answer) for k, answer in answers.items()}

    # --- operations ----------------------------------------------------------------------------

    async def login(self, args: dict) -> Any:
        """The same signed login on every shard: one account everywhere."""
        results = await self._every("login", args, list(self.legs))
        accounts = {r["account"] for r in results.values()}
        if len(accounts) != 1:
            raise ApiError(GatewayCode.INTERNAL_ERROR, "the key names different accounts on "
                           "the shards: make accounts with `gridworks accounts --kafka`")
        return {**results[min(results)], "shards": self.router.directory.shards}

    async def subscribe(self, args: dict) -> Any:
        names, resume, epoch = _subscription(args)
        directory = self.router.directory
        per_shard, ours = directory.split_channels(names)
        points = directory.split_resume(resume, epoch)
        calls = {k: self._leg(k).call("subscribe", {
            "channels": there, "resume": points.get(k, {}),
            "epoch": directory.epochs[k] if k in points else 0}) for k, there in per_shard.items()}
        results = {k: _result(await call) for k, call in calls.items()}
        for k, result in results.items():
            if result.get("epoch") != directory.epochs.get(k):  # the shard's log is new
                directory.epochs[k] = result["epoch"]
        return routing.merge_subscribed(results, ours, directory.epoch)

    async def unsubscribe(self, args: dict) -> Any:
        names, _, _ = _subscription(args)
        per_shard, ours = self.router.directory.split_channels(names)
        calls = {k: self._leg(k).call("unsubscribe", {"channels": there})
                 for k, there in per_shard.items()}
        gone = [ours[(k, name)] for k, call in calls.items()
                for name in _result(await call)["unsubscribed"]]
        return {"unsubscribed": gone}

    async def instruments(self, args: dict) -> Any:
        return routing.merge_lists(await self._every("instruments", args))

    async def place(self, args: dict) -> Any:
        shard = self.router.directory.shard_of_symbol(args.get("symbol"))
        call = self._leg(shard).call("place", args)
        client_id = args.get("client_order_id")
        if isinstance(client_id, str):
            self.placed[client_id] = shard
        return _result(await call)

    async def by_order(self, op: str, args: dict) -> Any:
        """An amend or a cancel, on the shard whose order it is."""
        return await self._one(await self._order_shard(args), op, args)

    async def order(self, args: dict) -> Any:
        return await self._one(await self._order_shard(args), "order", args)

    async def _order_shard(self, args: dict) -> int:
        order_id = args.get("order_id")
        if isinstance(order_id, int) and not isinstance(order_id, bool) and order_id > 0:
            shard = self.router.directory.shard_of_order(order_id)
            if shard is None:
                raise ApiError(GatewayCode.ORDER_NOT_FOUND, order_id=order_id)
            return shard
        client_id = args.get("client_order_id")
        if isinstance(client_id, str) and client_id in self.placed:
            return self.placed[client_id]
        if not isinstance(client_id, str) or not client_id:
            return self._home()  # its gateway says what is wrong with the arguments
        lookups = {k: leg.call("order", {"client_order_id": client_id})
                   for k, leg in self.legs.items()}
        for shard, lookup in lookups.items():
            if (await lookup).get("ok"):
                return shard
        raise ApiError(GatewayCode.ORDER_NOT_FOUND, client_order_id=client_id)

    async def cancel_all(self, args: dict) -> Any:
        symbol = args.get("symbol")
        shards = None if symbol is None else [self.router.directory.shard_of_symbol(symbol)]
        results = await self._every("cancel_all", args, shards)
        return {"cancelled": routing.merge_lists({k: r["cancelled"] for k, r in results.items()})}

    async def orders(self, args: dict) -> Any:
        return routing.merge_lists(await self._every("orders", args))

    async def positions(self, args: dict) -> Any:
        results = await self._every("positions", args)
        return {"positions": routing.merge_lists({k: r["positions"] for k, r in results.items()})}

    async def funds(self, args: dict) -> Any:
        return routing.merge_funds(await self._every("funds", args))


def _result(answer: Answer) -> Any:
    if answer.get("ok"):
        return answer.get("result")
    error = answer.get("error") or {}
    raise ForwardedError(error)


class ForwardedError(ApiError):
    """A shard gateway's error, passed on as it came."""

    def __init__(self, error: dict) -> None:
        super().__init__(GatewayCode.INTERNAL_ERROR)
        self.error = error

    def body(self) -> ErrorBody:
        e = self.error
        return ErrorBody(str(e.get("code", "INTERNAL_ERROR")), int(e.get("number", 4022)),
                         str(e.get("message", "")), e.get("detail"))


def _subscription(args: dict) -> tuple[list[str], dict[str, int], int]:
    names = args.get("channels")
    if (not isinstance(names, list) or not 1 <= len(names) <= 200
            or not all(isinstance(n, str) for n in names)):
        raise ApiError(GatewayCode.INVALID_ARGS, "channels: 1 to 200 channel names")
    resume = args.get("resume", {})
    epoch = args.get("epoch", 0)
    if not isinstance(resume, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in resume.values()):
        raise ApiError(GatewayCode.INVALID_ARGS, "resume: channel name -> sequence number")
    if not isinstance(epoch, int) or isinstance(epoch, bool):
        raise ApiError(GatewayCode.INVALID_ARGS, "epoch: an integer")
    return names, resume, epoch
