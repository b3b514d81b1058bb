"""The web client's files on the API's port: index, hashed assets, client routes, and
nothing outside the build."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.server import Gateway, GatewayConfig
from gateway.static import IMMUTABLE, REVALIDATE, StaticFiles
from tests.gateway.conftest import Exchange, http_get


@pytest.fixture
def build(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>GridWorks</title>")
    (root / "assets" / "app.3f2a.js").write_text("console.log('terminal')")
    (tmp_path / "secret.txt").write_text("not for the web")
    return root


@pytest.fixture
async def served(exchange: Exchange, build: Path) -> AsyncIterator[int]:
    gateway = Gateway(exchange.node, exchange.node.kek, GatewayConfig(port=0, web_root=build))
    await gateway.start()
    try:
        yield gateway.port
    finally:
        await gateway.stop(reconnect_after_ms=0)


async def test_the_built_client_is_served(served: int) -> None:
    status, headers, body = await http_get(served, "/")
    assert (status, body) == (200, b"<!doctype html><title>GridWorks</title>")
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == REVALIDATE
    status, headers, body = await http_get(served, "/assets/app.3f2a.js")
    assert (status, headers["cache-control"]) == (200, IMMUTABLE)
    assert "javascript" in headers["content-type"]
    assert (await http_get(served, "/trade/RELIANCE"))[2].startswith(b"<!doctype html>")
    assert (await http_get(served, "/assets/missing.js"))[0] == 404
    assert (await http_get(served, "/healthz"))[0] == 200  # the API's paths come first


def test_nothing_outside_the_build_is_reachable(build: Path) -> None:
    files = StaticFiles(build)
    for path in ("/../secret.txt", "/assets/../../secret.txt", "/..%2Fsecret.txt"):
        found = files.lookup(path)
        assert found is None or found[0].startswith(b"<!doctype"), path


async def test_without_a_build_the_root_says_where_the_api_is(exchange: Exchange) -> None:
    status, headers, body = await http_get(exchange.gateway.port, "/")
    assert status == 200
    assert b"ws://" in body
    assert headers["content-type"].startswith("text/plain")
