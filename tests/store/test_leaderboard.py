"""The leaderboard on the real Redis: opt-in under unique codenames, the day's P&L ranked,
names never shown, opting out; over REST; and a clear 503 while Redis is away."""

from __future__ import annotations

import httpx
from redis.asyncio import Redis

from accounts import keys
from gateway.limits import LocalKeyLimiter
from gateway.rest.app import RestServer
from gridworks.leaderboard import day_pnl, publish_once, trading_day
from store.leaderboard import CodenameError, Leaderboard
from tests.gateway.conftest import Exchange
from tests.gateway.test_trading import order
from tests.store.conftest import REDIS
from tests.store.proxy import CuttableProxy


async def test_members_are_ranked_by_the_days_pnl(exchange: Exchange,
                                                  redis_prefix: str) -> None:
    redis = Redis.from_url(REDIS)
    board = Leaderboard(redis, redis_prefix)
    alice, bob = exchange.alice, exchange.bob
    try:
        await board.join(alice.account, "Falcon")
        await board.join(bob.account, "tiger-7")
        try:
            await board.join(bob.account, "falcon")
            raise AssertionError("a taken codename was given away")
        except CodenameError:
            pass
        a, b = await exchange.client(alice), await exchange.client(bob)
        await a.request("place", **order("a1", "sell", 10, 141_000))
        await b.request("place", **order("b1", "buy", 10, 141_000))
        await b.request("place", **order("b2", "sell", 1, 142_000))  # the mark moves up...
        await a.request("place", **order("a2", "buy", 1, 142_000))  # ...on a trade at 1420
        await a.close()
        await b.close()
        assert await publish_once(exchange.gateway, board) == 2
        top = await board.top(trading_day())
        assert [(s.rank, s.codename) for s in top] == [(1, "tiger-7"), (2, "falcon")]
        assert top[0].pnl == day_pnl(exchange.gateway, bob.account) > 0
        assert top[1].pnl == day_pnl(exchange.gateway, alice.account) < 0
        mine = await board.standing(trading_day(), alice.account)
        assert mine is not None
        assert (mine.rank, mine.codename) == (2, "falcon")
        await board.leave(alice.account, trading_day())
        assert [s.codename for s in await board.top(trading_day())] == ["tiger-7"]
        await board.join(bob.account, "falcon")  # free again, and bob may rename himself
        assert (await board.members())[bob.account] == "falcon"
    finally:
        await redis.aclose()


async def test_the_leaderboard_over_rest(exchange: Exchange, redis_prefix: str) -> None:
    proxy = await CuttableProxy("127.0.0.1", 6379).start()
    redis = Redis.from_url(f"redis://127.0.0.1:{proxy.port}/0", socket_timeout=0.3,
                           socket_connect_timeout=0.3)
    board = Leaderboard(redis, redis_prefix)
    server = RestServer(exchange.gateway, LocalKeyLimiter(100, 200), None, "127.0.0.1", 0,
                        board)
    await server.start()
    base = f"http://127.0.0.1:{server.port}"

    def signed(method: str, path: str, body: bytes = b"") -> dict[str, str]:
        return keys.request_headers(exchange.alice.key_id, exchange.alice.secret, method, path,
                                    body)

    try:
        async with httpx.AsyncClient() as http:
            body = b'{"codename": "night-owl"}'
            joined = await http.post(base + "/leaderboard/join", content=body,
                                     headers={**signed("POST", "/leaderboard/join", body),
                                              "content-type": "application/json"})
            assert joined.json()["data"] == "night-owl"
            await publish_once(exchange.gateway, board)
            listed = (await http.get(base + "/leaderboard")).json()["data"]
            assert listed == [{"rank": 1, "codename": "night-owl", "pnl": 0}]
            assert "alice" not in str(listed)
            me = await http.get(base + "/leaderboard/me", headers=signed("GET", "/leaderboard/me"))
            assert me.json()["data"]["codename"] == "night-owl"
            proxy.cut()
            away = await http.get(base + "/leaderboard")
            assert (away.status_code, away.json()["code"]) == (503, "LEADERBOARD_UNAVAILABLE")
            proxy.restore()
            back = await http.get(base + "/leaderboard")
            assert back.status_code == 200
    finally:
        await server.stop()
        await redis.aclose()
        await proxy.stop()
