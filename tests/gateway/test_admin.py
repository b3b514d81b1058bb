"""Administration over the WebSocket API: an admin key creates, funds and keys accounts while
the server runs; the core's refusals come back as their codes; other keys are refused."""

from __future__ import annotations

import pytest

from accounts.registry import Scope
from gateway.client import ClientError
from tests.gateway.conftest import RUPEE, Exchange


async def test_an_admin_key_runs_accounts_while_the_server_serves(exchange: Exchange) -> None:
    _, operator = await exchange.admin.create_account("ops", 0, Scope.ADMIN | Scope.READ)
    admin = await exchange.client(operator)
    trader = await exchange.client(exchange.alice)
    try:
        names = {a["name"] for a in await admin.request("accounts")}
        assert {"alice", "bob", "ops"} <= names
        made = await admin.request("create_account", name="carol", funds=5_000 * RUPEE,
                                   scopes=["read", "trade"], label="desk")
        assert made["scopes"] == ["read", "trade"]
        carol = await exchange.client()
        await carol.login(made["key_id"], made["secret"])
        assert (await carol.request("funds"))["cash"] == 5_000 * RUPEE

        await admin.request("fund", account="carol", amount=-1_000 * RUPEE)
        assert (await carol.request("funds"))["cash"] == 4_000 * RUPEE
        with pytest.raises(ClientError) as too_much:
            await admin.request("fund", account=made["account"], amount=-10_000 * RUPEE)
        assert too_much.value.code.startswith("WITHDRAW")
        with pytest.raises(ClientError) as taken:
            await admin.request("create_account", name="CAROL")
        assert taken.value.code == "ACCOUNT_NAME_TAKEN"
        with pytest.raises(ClientError) as nobody:
            await admin.request("fund", account="nobody", amount=RUPEE)
        assert nobody.value.code == "INVALID_ARGS"

        extra = await admin.request("new_key", account="carol", scopes=["read"])
        await admin.request("revoke_key", account="carol", key_id=made["key_id"])
        assert (await carol.next_push("system"))["data"] == {"logout": "API_KEY_REVOKED"}
        reader = await exchange.client()
        await reader.login(extra["key_id"], extra["secret"])
        assert (await reader.request("funds"))["cash"] == 4_000 * RUPEE
        await reader.close()

        with pytest.raises(ClientError) as denied:
            await trader.request("accounts")
        assert denied.value.code == "SCOPE_DENIED"
    finally:
        await admin.close()
        await trader.close()
