"""The REST API's application (Litestar) and its server (uvicorn), in the node's event loop.

Litestar was chosen because it takes msgspec types natively: the handlers' argument and
result types are the ones the WebSocket API uses (`gateway.ops`, `gateway.private`), and the
OpenAPI 3.1 document is generated from those same types, so nothing is described twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from litestar import Litestar, MediaType, Request, Response, get
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin

from gateway.errors import ApiError, GatewayCode
from gateway.rest.api import ROUTES, RestServices
from gateway.rest.envelope import Failure, failure

if TYPE_CHECKING:
    import asyncpg

    from gateway.limits import KeyLimiter
    from gateway.server import Gateway
    from store.leaderboard import Leaderboard

log = logging.getLogger(__name__)

DESCRIPTION = (
    "Trading, portfolio and history over HTTP. Prices and amounts are integer paise, "
    "quantities units, times nanoseconds. Sign every request but /instruments with an API "
    "key: X-GW-Key, X-GW-Timestamp (ms), X-GW-Nonce (8-64 characters, fresh) and "
    "X-GW-Signature, the lowercase hex HMAC-SHA256 under the secret of key id, timestamp, "
    "nonce, method, path with query and the hex SHA-256 of the body, joined by newlines. "
    "Envelope: {status: success, data} or {status: error, error_type, message, code, number, "
    "detail}. See docs/rest-api.md.")


def _error(request: Request, exc: Exception) -> Response[Failure]:
    if isinstance(exc, ApiError):
        error = exc
    elif isinstance(exc, ValidationException):
        error = ApiError(GatewayCode.INVALID_ARGS, str(exc.detail),
                         errors=exc.extra if isinstance(exc.extra, list) else None)
    elif isinstance(exc, HTTPException) and exc.status_code == 404:
        return Response(Failure("DataException", "no such endpoint", "NOT_FOUND", 404),
                        status_code=404)
    elif isinstance(exc, HTTPException) and exc.status_code == 405:
        return Response(Failure("InputException", "method not allowed", "METHOD_NOT_ALLOWED",
                                405), status_code=405)
    else:
        log.exception("REST request failed: %s %s", request.method, request.url.path)
        error = ApiError(GatewayCode.INTERNAL_ERROR)
    status, body = failure(error)
    headers = {"Retry-After": "1"} if status == 429 else {}
    return Response(body, status_code=int(status), headers=headers)


def build(services: RestServices) -> Litestar:
    openapi = OpenAPIConfig(title="GridWorks REST API", version="1", description=DESCRIPTION,
                            path="/docs", render_plugins=[ScalarRenderPlugin()])

    @get("/openapi.json", include_in_schema=False, media_type=MediaType.JSON)
    async def openapi_document(request: Request) -> dict:
        return request.app.openapi_schema.to_schema()

    app = Litestar([*ROUTES, openapi_document], openapi_config=openapi,
                   exception_handlers={Exception: _error}, debug=False)
    app.state.services = services
    return app


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside a running event loop whose process owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # the node owns SIGINT and SIGTERM


class Served:
    """An ASGI application on its own port, served by uvicorn from the running loop."""

    def __init__(self, app: object, host: str, port: int, name: str) -> None:
        self.config = uvicorn.Config(app, host=host, port=port, log_level="warning",  # type: ignore[arg-type]
                                     access_log=False, lifespan="off")
        self.server = EmbeddedServer(self.config)
        self.name = name
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self.server.serve(), name=self.name)
        while not self.server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets if self.server.servers else []
        return int(sockets[0].getsockname()[1]) if sockets else self.config.port

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class RestServer(Served):
    """The REST API on its own port, served from the running event loop."""

    def __init__(self, gateway: Gateway, limiter: KeyLimiter, history: asyncpg.Pool | None,
                 host: str, port: int, leaderboard: Leaderboard | None = None) -> None:
        self.app = build(RestServices(gateway, limiter, history, leaderboard))
        super().__init__(self.app, host, port, "gridworks-rest")
        self.background: list[asyncio.Task[None]] = []  # work that ends with the server

    async def stop(self) -> None:
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        await super().stop()
