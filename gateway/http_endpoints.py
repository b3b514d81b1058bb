"""Plain HTTP on the WebSocket port: the browser origin check for every request, then
``/healthz``, ``/status``, ``/metrics`` and the web terminal's files (or a notice at ``/``).
"""

from __future__ import annotations

import ipaddress
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import msgspec
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

if TYPE_CHECKING:
    from gateway.server import Gateway

NO_TERMINAL = """GridWorks is running.

The web terminal is not built on this server. The WebSocket API is on this port:
ws://<this host>:{port}/ (see docs/websocket-api.md); /healthz, /metrics and /status
answer plain HTTP.
"""


def answer(gw: Gateway, ws: ServerConnection, request: Request) -> Response | None:
    """The response to a plain request, a refusal of a WebSocket upgrade from a foreign
    page, or None to go on with the upgrade."""
    path = urlsplit(request.path).path
    origin = request.headers.get("Origin")
    if origin is not None and not (origin in gw.config.limits.allowed_origins
                                   or same_origin(origin, request)):
        return json_response(ws, HTTPStatus.FORBIDDEN, {"error": "ORIGIN_NOT_ALLOWED"})
    if request.headers.get("Upgrade", "").lower() == "websocket":
        return None
    if path in ("/healthz", "/health"):
        return json_response(ws, HTTPStatus.OK, {"status": "ok", "seq": gw.core.last_seq})
    if path == "/status":
        extra = {name: part() for name, part in gw.extra_status.items()}
        return json_response(ws, HTTPStatus.OK, {**gw.node_status(), "gateway": gw.stats(),
                                                 **extra})
    if path == "/metrics":
        response = ws.respond(HTTPStatus.OK, gw.metrics.text())
        response.headers["Content-Type"] = "text/plain; version=0.0.4"
        return response
    if gw.static is not None and (found := gw.static.lookup(path)) is not None:
        body, kind, cache = found
        return Response(HTTPStatus.OK, "OK", Headers([
            ("Content-Type", kind), ("Content-Length", str(len(body))),
            ("Cache-Control", cache), ("X-Content-Type-Options", "nosniff")]), body)
    if path == "/" and gw.static is None:
        response = ws.respond(HTTPStatus.OK, NO_TERMINAL.format(port=gw.port))
        response.headers["Content-Type"] = "text/plain; charset=utf-8"
        return response
    return json_response(ws, HTTPStatus.NOT_FOUND, {"error": "NOT_FOUND"})


def same_origin(origin: str, request: Request) -> bool:
    """A page served by this server: its origin names the host the request was sent to,
    and that host is an address or localhost, not a name (a name can be rebound to this
    server's address by whoever controls it, making any page "same origin")."""
    netloc = urlsplit(origin).netloc.lower()
    if not netloc or netloc != request.headers.get("Host", "").lower():
        return False
    host = urlsplit(origin).hostname or ""
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def json_response(ws: ServerConnection, status: HTTPStatus, body: object) -> Response:
    response = ws.respond(status, msgspec.json.encode(body).decode())
    del response.headers["Content-Type"]
    response.headers["Content-Type"] = "application/json"
    response.headers["Cache-Control"] = "no-store"
    return response


def forwarded_address(peer: str | None, forwarded: str, trusted_proxies: tuple[str, ...]) -> (
        str | None):
    """The client's address: the peer's, or, when the peer is a trusted proxy (a router:
    an address or a network such as a cluster's pod network), the last address its
    X-Forwarded-For names."""
    if peer and trusted_proxies and _trusted(peer, trusted_proxies):
        last = forwarded.rpartition(",")[2].strip()
        if last:
            return last
    return peer


def _trusted(peer: str, proxies: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(p, strict=False) for p in proxies)
