"""Users with passwords: argon2id logins, JWT access tokens, rotating refresh tokens whose
reuse revokes the session, logout, roles as scopes; the same token logs in on the WebSocket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from gateway.client import Client, ClientError
from gateway.limits import LocalKeyLimiter
from gateway.rest.app import RestServer
from gateway.sessions import ALGORITHM, ISSUER
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import order

pytestmark = pytest.mark.timeout(120)
PASSWORD = "correct horse battery"


@pytest.fixture
async def rest(exchange: Exchange) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    await exchange.admin.set_user("asha", exchange.alice.account, "trader", PASSWORD)
    await exchange.admin.set_user("ravi.risk", exchange.alice.account, "risk_officer", PASSWORD)
    server = RestServer(exchange.gateway, LocalKeyLimiter(100, 200), None, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield http, f"http://127.0.0.1:{server.port}"
    finally:
        await server.stop()


async def login(http: httpx.AsyncClient, base: str, username: str = "asha",
                password: str = PASSWORD) -> httpx.Response:
    return await http.post(base + "/session/token", json={"username": username,
                                                          "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["code"]


async def test_a_user_logs_in_and_trades_with_its_token(
        rest: tuple[httpx.AsyncClient, str], exchange: Exchange) -> None:
    http, base = rest
    tokens = (await login(http, base, "ASHA")).json()["data"]  # names are case-insensitive
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert tokens["refresh_token"].startswith("gwr_")
    profile = (await http.get(base + "/user/profile",
                              headers=bearer(tokens["access_token"]))).json()["data"]
    assert profile == {"account": exchange.alice.account, "name": "alice", "key_id": "user:asha",
                       "scopes": ["read", "trade", "withdraw"]}
    placed = await http.post(base + "/orders", json=order("u-1", "buy", 1, 141_000),
                             headers=bearer(tokens["access_token"]))
    assert placed.json()["data"]["status"] == "OPEN"


async def test_wrong_passwords_and_unknown_users_get_the_same_answer(
        rest: tuple[httpx.AsyncClient, str]) -> None:
    http, base = rest
    assert code(await login(http, base, password="not the password")) == (401, "BAD_PASSWORD")
    assert code(await login(http, base, username="nobody.here")) == (401, "BAD_PASSWORD")
    assert code(await http.get(base + "/user/profile", headers=bearer("garbage"))) == (
        401, "TOKEN_INVALID")


async def test_an_expired_token_is_refused(rest: tuple[httpx.AsyncClient, str],
                                           exchange: Exchange) -> None:
    http, base = rest
    tokens = (await login(http, base)).json()["data"]
    claims = jwt.decode(tokens["access_token"], exchange.gateway.tokens.key,
                        algorithms=[ALGORITHM], issuer=ISSUER)
    old = jwt.encode({**claims, "iat": int(time.time()) - 3_600,
                      "exp": int(time.time()) - 60}, exchange.gateway.tokens.key,
                     algorithm=ALGORITHM)
    assert code(await http.get(base + "/user/profile", headers=bearer(old))) == (
        401, "TOKEN_EXPIRED")
    forged = jwt.encode(claims, b"another key" * 3, algorithm=ALGORITHM)
    assert code(await http.get(base + "/user/profile", headers=bearer(forged))) == (
        401, "TOKEN_INVALID")


async def test_refresh_rotates_and_a_reused_refresh_token_revokes_the_session(
        rest: tuple[httpx.AsyncClient, str]) -> None:
    http, base = rest
    first = (await login(http, base)).json()["data"]
    second = (await http.post(base + "/session/refresh",
                              json={"refresh_token": first["refresh_token"]})).json()["data"]
    assert second["refresh_token"] != first["refresh_token"]
    assert (await http.get(base + "/user/profile",
                           headers=bearer(second["access_token"]))).status_code == 200
    reused = await http.post(base + "/session/refresh",
                             json={"refresh_token": first["refresh_token"]})
    assert code(reused) == (401, "REFRESH_REUSED")
    # the whole session is gone: its newest tokens too
    assert code(await http.post(base + "/session/refresh",
                                json={"refresh_token": second["refresh_token"]})) == (
        401, "TOKEN_INVALID")
    assert code(await http.get(base + "/user/profile",
                               headers=bearer(second["access_token"]))) == (401, "TOKEN_INVALID")


async def test_logout_ends_the_session(rest: tuple[httpx.AsyncClient, str]) -> None:
    http, base = rest
    tokens = (await login(http, base)).json()["data"]
    ended = await http.delete(base + "/session", headers=bearer(tokens["access_token"]))
    assert ended.json()["data"] is True
    assert code(await http.get(base + "/user/profile",
                               headers=bearer(tokens["access_token"]))) == (401, "TOKEN_INVALID")


async def test_roles_are_scopes_and_deactivated_users_cannot_refresh(
        rest: tuple[httpx.AsyncClient, str], exchange: Exchange) -> None:
    http, base = rest
    risk = (await login(http, base, "ravi.risk")).json()["data"]
    denied = await http.post(base + "/orders", json=order("r-1", "buy", 1, 141_000),
                             headers=bearer(risk["access_token"]))
    assert code(denied) == (403, "SCOPE_DENIED")
    assert (await http.get(base + "/user/margins",
                           headers=bearer(risk["access_token"]))).status_code == 200
    await exchange.admin.set_user("ravi.risk", exchange.alice.account, "risk_officer", PASSWORD,
                                  active=False)
    assert code(await http.post(base + "/session/refresh",
                                json={"refresh_token": risk["refresh_token"]})) == (
        401, "TOKEN_INVALID")
    assert code(await login(http, base, "ravi.risk")) == (401, "BAD_PASSWORD")


async def test_the_same_token_logs_in_on_the_websocket(
        rest: tuple[httpx.AsyncClient, str], exchange: Exchange) -> None:
    http, base = rest
    tokens = (await login(http, base)).json()["data"]
    ws = await Client.connect(exchange.url)
    try:
        who = await ws.request("login", token=tokens["access_token"])
        assert who == {"account": exchange.alice.account, "name": "alice",
                       "scopes": ["read", "trade", "withdraw"]}
        placed = await ws.request("place", **order("w-1", "buy", 1, 141_000))
        assert placed["status"] == "OPEN"
    finally:
        await ws.close()
    other = await Client.connect(exchange.url)
    try:
        with pytest.raises(ClientError) as refused:
            await other.request("login", token="not-a-token")
        assert refused.value.code == "TOKEN_INVALID"
    finally:
        await other.close()


async def test_a_user_logs_in_on_the_websocket_with_its_password(
        rest: tuple[httpx.AsyncClient, str], exchange: Exchange) -> None:
    ws = await Client.connect(exchange.url)
    try:
        with pytest.raises(ClientError) as wrong:
            await ws.request("login", username="asha", password="not it")
        assert wrong.value.code == "BAD_PASSWORD"
        who = await ws.request("login", username="Asha", password=PASSWORD)
        assert who == {"account": exchange.alice.account, "name": "alice", "user": "asha",
                       "role": "trader", "scopes": ["read", "trade", "withdraw"]}
        assert (await ws.request("funds"))["account"] == exchange.alice.account
    finally:
        await ws.close()


async def test_logout_and_deactivation_close_websocket_logins(
        rest: tuple[httpx.AsyncClient, str], exchange: Exchange) -> None:
    http, base = rest
    tokens = (await login(http, base)).json()["data"]
    by_token = await Client.connect(exchange.url)
    await by_token.request("login", token=tokens["access_token"])
    by_password = await Client.connect(exchange.url)
    await by_password.request("login", username="ravi.risk", password=PASSWORD)
    await http.delete(base + "/session", headers=bearer(tokens["access_token"]))
    notice = await by_token.next_push("system")
    assert notice["data"] == {"logout": "SESSION_ENDED"}
    await exchange.admin.set_user("ravi.risk", exchange.alice.account, "risk_officer", PASSWORD,
                                  active=False)
    notice = await by_password.next_push("system")
    assert notice["data"] == {"logout": "USER_DISABLED"}
    for client in (by_token, by_password):
        await asyncio.wait_for(client.ws.wait_closed(), 5)
        assert client.ws.close_code == 4010
