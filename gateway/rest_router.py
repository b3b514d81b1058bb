"""The REST API of a cluster on one address: a router that forwards each request to the
shard gateways' REST APIs (`gateway.rest_routing` holds the rules).

Orders go to the shard that owns their symbol (placing) or that their id names (modify,
cancel, look up); the account's lists go to every shard and come back as one: funds summed,
positions, holdings and today's orders side by side, history pages merged by time under one
cursor. Signed requests are forwarded exactly as they came, so the same signature is checked
on every shard (each shard keeps its own nonces). A password login opens a session on every
shard and hands out one token pair standing for all of them. Withdrawals and the leaderboard
act on one shard's money or standings, so they stay on the shard gateways (NOT_ROUTED).

The router keeps nothing between requests: any router of a cluster serves any request.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
import msgspec

from gateway.errors import ApiError, GatewayCode
from gateway.rest.app import Served
from gateway.rest.envelope import failure
from gateway.rest_routing import (
    ORDERS,
    TRADES,
    CursorError,
    Paging,
    ShardPage,
    caller_affinity,
    decode_cursor,
    join_tokens,
    merge_rows,
    merge_statement,
    split_token,
)
from gateway.routing import Directory, merge_funds

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per forwarded request

MAX_BODY = 1 << 20
FORWARDED = ("content-type", "accept", "x-gw-key", "x-gw-timestamp", "x-gw-nonce",
             "x-gw-signature")
PASSED_BACK = ("content-type", "retry-after")
ORDER_PATH = re.compile(r"^/orders/(\d{1,19})(/history)?$")


@dataclass(frozen=True)
class Incoming:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peer: str

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    def param(self, name: str) -> str | None:
        values = parse_qs(self.query).get(name)
        return values[-1] if values else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def data(self) -> Any:
        return msgspec.json.decode(self.body)["data"]


class ShardGone(Exception):  # noqa: N818 - an outcome, not a bug
    """No gateway of the shard could be reached: the request was not sent."""


class Refused(Exception):  # noqa: N818
    """A shard's refusal of a request sent to several shards: the answer, as it came."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


class Unanswered(Exception):  # noqa: N818
    """The request was sent and no answer came: it may or may not have been acted on."""


def success(data: Any, status: int = 200) -> Answer:
    return Answer(status, msgspec.json.encode({"status": "success", "data": data}),
                  {"content-type": "application/json"})


def refusal(error: ApiError) -> Answer:
    status, body = failure(error)
    headers = {"content-type": "application/json"}
    if status == 429:
        headers["retry-after"] = "1"
    return Answer(int(status), msgspec.json.encode(body), headers)


class RestRouter:
    def __init__(self, upstreams: dict[int, list[str]], directory: Directory,
                 host: str = "127.0.0.1", port: int = 8091, timeout_s: float = 15.0) -> None:
        if not upstreams or any(not urls for urls in upstreams.values()):
            raise ValueError("every shard needs at least one REST address")
        self.upstreams = {k: [u.rstrip("/") for u in urls] for k, urls in upstreams.items()}
        self.directory = directory
        self.shards = sorted(upstreams)
        self._turns = {shard: itertools.count() for shard in upstreams}
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=3.0),
                                      limits=httpx.Limits(max_keepalive_connections=64))
        self.served = Served(self, host, port, "gridworks-rest-router")
        self.table: list[tuple[str, str, Callable[[Incoming], Awaitable[Answer]]]] = [
            ("GET", "/healthz", self.healthz),
            ("GET", "/instruments", self.every_list),
            ("POST", "/session/token", self.session_token),
            ("POST", "/session/refresh", self.session_refresh),
            ("DELETE", "/session", self.session_end),
            ("GET", "/user/margins", self.margins),
            ("GET", "/portfolio/positions", self.positions),
            ("GET", "/portfolio/holdings", self.every_list),
            ("GET", "/portfolio/positions/at", self.positions_at),
            ("GET", "/orders", self.orders),
            ("POST", "/orders", self.place),
            ("GET", "/history/orders", self.paged(ORDERS)),
            ("GET", "/trades", self.paged(TRADES)),
            ("GET", "/ledger", self.statement),
            ("POST", "/funds/withdraw", self.not_routed(
                "a withdrawal takes money from one shard: use that shard's gateway, or move "
                "the money first with `gridworks transfer`")),
        ]

    # --- serving -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.served.start()

    @property
    def port(self) -> int:
        return self.served.port

    async def stop(self) -> None:
        await self.served.stop()
        await self.http.aclose()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                answer = refusal(ApiError(GatewayCode.INVALID_ARGS, "the body is over 1 MiB"))
                break
            if not message.get("more_body"):
                request = Incoming(scope["method"], scope["path"],
                                   scope["query_string"].decode("latin-1"),
                                   {k.decode("latin-1").lower(): v.decode("latin-1")
                                    for k, v in scope["headers"]},
                                   bytes(body), (scope.get("client") or ("", 0))[0])
                answer = await self.answer(request)
                break
        headers = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        headers.append((b"content-length", str(len(answer.body)).encode()))  # not chunked
        await send({"type": "http.response.start", "status": answer.status,
                    "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def answer(self, request: Incoming) -> Answer:
        try:
            return await self.route(request)
        except ApiError as exc:
            return refusal(exc)
        except Refused as refused:
            return refused.answer
        except ShardGone:
            return refusal(ApiError(GatewayCode.SHARD_UNAVAILABLE))
        except Unanswered:
            code = (GatewayCode.OUTCOME_UNKNOWN if request.method != "GET"
                    else GatewayCode.SHARD_UNAVAILABLE)
            return refusal(ApiError(code))
        except Exception:
            log.exception("routing %s %s failed", request.method, request.path)
            return refusal(ApiError(GatewayCode.INTERNAL_ERROR))

    async def route(self, request: Incoming) -> Answer:
        for method, path, handler in self.table:
            if request.method == method and request.path == path:
                return await handler(request)
        found = ORDER_PATH.match(request.path)
        if found:
            order_id = int(found.group(1))
            shard = self.directory.shard_of_order(order_id)
            if shard is None:
                raise ApiError(GatewayCode.ORDER_NOT_FOUND, order_id=order_id)
            return await self.one(shard, request)
        if request.path.startswith("/leaderboard"):
            return await self.not_routed("the leaderboard ranks each shard's day on its own: "
                                         "use a shard's gateway")(request)
        return await self.one(self.shards[0], request)  # the API's documents, its 404s

    # --- talking to the shards -----------------------------------------------------------------

    async def send(self, shard: int, request: Incoming, *, authorization: str | None = None,
                   body: bytes | None = None) -> Answer:
        """The request on the shard's gateway for its caller (`caller_affinity`; anonymous
        requests take turns), trying the next ones until one takes the connection."""
        headers = {k: v for k, v in request.headers.items() if k in FORWARDED}
        if authorization:
            headers["authorization"] = authorization
        if request.peer:
            headers["x-forwarded-for"] = request.peer
        urls = self.upstreams[shard]
        affinity = caller_affinity(request.headers)
        start = next(self._turns[shard]) if affinity is None else affinity
        for i in range(len(urls)):
            url = urls[(start + i) % len(urls)] + request.target
            try:
                reply = await self.http.request(request.method, url, headers=headers,
                                                content=request.body if body is None else body)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                continue
            except httpx.TransportError as exc:
                raise Unanswered(shard) from exc
            return Answer(reply.status_code, reply.content,
                          {k: v for k, v in reply.headers.items() if k in PASSED_BACK})
        raise ShardGone(shard)

    def bearers(self, request: Incoming) -> dict[int, str | None]:
        """Each shard's Authorization for the request: its part of a router's token."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return dict.fromkeys(self.shards)
        bearers: dict[int, str | None] = {}
        for shard, token in split_token(header[7:].strip(), self.shards).items():
            if not token:
                raise ApiError(GatewayCode.TOKEN_EXPIRED, f"shard {shard} missed the last "
                               "refresh: refresh the token")
            bearers[shard] = f"Bearer {token}"
        return bearers

    async def one(self, shard: int, request: Incoming) -> Answer:
        return await self.send(shard, request, authorization=self.bearers(request)[shard])

    async def every(self, request: Incoming, shards: list[int] | None = None) -> dict[int, Any]:
        """Every shard's data, in shard order; the first refusal (in shard order) is the
        answer (`Refused`)."""
        bearers = self.bearers(request)
        targets = self.shards if shards is None else shards
        answers = await asyncio.gather(*(self.send(k, request, authorization=bearers[k])
                                         for k in targets))
        for answer in answers:
            if not answer.ok:
                raise Refused(answer)
        return {k: answer.data() for k, answer in zip(targets, answers, strict=True)}

    # --- the routes ----------------------------------------------------------------------------

    async def healthz(self, request: Incoming) -> Answer:
        return Answer(200, b"ok\n", {"content-type": "text/plain"})

    def not_routed(self, message: str) -> Callable[[Incoming], Awaitable[Answer]]:
        async def refuse(request: Incoming) -> Answer:
            raise ApiError(GatewayCode.NOT_ROUTED, message)
        return refuse

    async def place(self, request: Incoming) -> Answer:
        try:
            symbol = msgspec.json.decode(request.body).get("symbol")
        except (msgspec.DecodeError, AttributeError):
            symbol = None
        if not isinstance(symbol, str):  # its gateway says what is wrong with the body
            return await self.one(self.shards[0], request)
        return await self.one(self.directory.shard_of_symbol(symbol), request)

    async def every_list(self, request: Incoming) -> Answer:
        return success([row for rows in (await self.every(request)).values() for row in rows])

    async def orders(self, request: Incoming) -> Answer:
        rows = [row for rows in (await self.every(request)).values() for row in rows]
        return success(sorted(rows, key=lambda r: (-r["created_ts"], -r["order_id"])))

    async def margins(self, request: Incoming) -> Answer:
        return success(merge_funds(await self.every(request)))

    async def positions(self, request: Incoming) -> Answer:
        found = await self.every(request)
        return success({"positions": [row for data in found.values()
                                      for row in data["positions"]]})

    async def positions_at(self, request: Incoming) -> Answer:
        rows = [{**row, "shard": k} for k, rows in (await self.every(request)).items()
                for row in rows]
        return success(sorted(rows, key=lambda r: (r["symbol"], r["product"])))

    def paged(self, paging: Paging) -> Callable[[Incoming], Awaitable[Answer]]:
        async def page(request: Incoming) -> Answer:
            positions, limit = self._paging(request)
            found = await self.every(request, [k for k, p in positions.items() if not p.done])
            pages = {k: ShardPage(d["items"], d["next"]) for k, d in found.items()}
            rows, cursor = merge_rows(paging, pages, positions, limit)
            return success({"items": rows, "next": cursor})
        return page

    async def statement(self, request: Incoming) -> Answer:
        positions, limit = self._paging(request)
        found = await self.every(request, [k for k, p in positions.items() if not p.done])
        pages = {k: ShardPage(d["entries"], d["next"]) for k, d in found.items()}
        openings = {k: int(d["opening_balance"]) for k, d in found.items()}
        return success(merge_statement(pages, openings, positions, limit))

    def _paging(self, request: Incoming) -> tuple[dict, int]:
        try:
            positions = decode_cursor(request.param("cursor"), self.shards)
        except CursorError as exc:
            raise ApiError(GatewayCode.INVALID_ARGS, str(exc)) from None
        text = request.param("limit") or "100"
        if not text.isdigit() or not 1 <= int(text) <= 1_000:
            raise ApiError(GatewayCode.INVALID_ARGS, "limit: 1 to 1000")
        if all(p.done for p in positions.values()):  # no router hands such a cursor out
            raise ApiError(GatewayCode.INVALID_ARGS, "the cursor is past the last page")
        return positions, int(text)

    # --- sessions ------------------------------------------------------------------------------

    async def session_token(self, request: Incoming) -> Answer:
        """A session on every shard, and one token pair for them all."""
        answers = await asyncio.gather(*(self.send(k, request) for k in self.shards),
                                       return_exceptions=True)
        opened = {k: a.data() for k, a in zip(self.shards, answers, strict=True)
                  if isinstance(a, Answer) and a.ok}
        if len(opened) == len(self.shards):
            return success(self._tokens(opened, {}))
        await self._end_sessions(request, opened)  # none left behind half-open
        for answer in answers:
            if isinstance(answer, Answer) and not answer.ok:
                return answer
        raise next(a for a in answers if isinstance(a, BaseException))

    async def session_refresh(self, request: Incoming) -> Answer:
        """Every shard's refresh token rotated. A shard that could not be reached keeps its
        refresh token (unused, so still good) and gets no access token until the next
        refresh: requests that need it answer TOKEN_EXPIRED."""
        try:
            presented = msgspec.json.decode(request.body)["refresh_token"]
            parts = split_token(str(presented), self.shards)
        except (msgspec.DecodeError, KeyError, TypeError):
            raise ApiError(GatewayCode.INVALID_ARGS, "refresh_token: a router's refresh "
                           "token") from None
        answers = await asyncio.gather(*(
            self.send(k, request, body=msgspec.json.encode({"refresh_token": parts[k]}))
            for k in self.shards), return_exceptions=True)
        fresh: dict[int, Any] = {}
        for shard, answer in zip(self.shards, answers, strict=True):
            if isinstance(answer, Answer):
                if not answer.ok:
                    return answer
                fresh[shard] = answer.data()
            elif not isinstance(answer, (ShardGone, Unanswered)):
                raise answer
        if not fresh:
            raise ApiError(GatewayCode.SHARD_UNAVAILABLE)
        return success(self._tokens(fresh, {k: parts[k] for k in self.shards
                                            if k not in fresh}))

    async def session_end(self, request: Incoming) -> Answer:
        await self.every(request)
        return success(True)

    def _tokens(self, fresh: dict[int, Any], stale_refresh: dict[int, str]) -> dict[str, Any]:
        access = {k: t["access_token"] for k, t in fresh.items()} | dict.fromkeys(
            stale_refresh, "")
        refresh = {k: t["refresh_token"] for k, t in fresh.items()} | stale_refresh
        return {"access_token": join_tokens(access), "refresh_token": join_tokens(refresh),
                "expires_in": min(int(t["expires_in"]) for t in fresh.values()),
                "token_type": "Bearer"}

    async def _end_sessions(self, request: Incoming, opened: dict[int, Any]) -> None:
        end = Incoming("DELETE", "/session", "", {}, b"", request.peer)
        await asyncio.gather(*(self.send(k, end, authorization=f"Bearer {t['access_token']}")
                               for k, t in opened.items()), return_exceptions=True)

