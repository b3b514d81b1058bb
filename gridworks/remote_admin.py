"""Account administration through a running server's WebSocket API, with the operator's key.

`gridworks accounts` uses this when the data directory is in use by a server: the same
actions as `gridworks.admin.Admin`, sent as the admin-scope operations of the gateway. The
account list is read once when connecting (a command-line invocation does one thing).
"""

from __future__ import annotations

from accounts.registry import scope_names
from gateway.client import Client, ClientError
from gridworks.admin import AccountSummary, AdminError, Credentials


class RemoteAdmin:
    def __init__(self, client: Client, rows: list[dict]) -> None:
        self.client = client
        self._rows = rows

    @classmethod
    async def connect(cls, url: str, operator: Credentials) -> RemoteAdmin:
        client = await Client.connect(url)
        try:
            await client.login(operator.key_id, operator.secret)
            rows = await client.request("accounts")
        except BaseException:
            await client.close()
            raise
        return cls(client, rows)

    async def close(self) -> None:
        await self.client.close()

    def resolve(self, who: str) -> int:
        for row in self._rows:
            if str(row["account"]) == who or row["name"].casefold() == who.casefold():
                return int(row["account"])
        raise AdminError("UNKNOWN_ACCOUNT", f"no account {who!r}")

    def accounts(self) -> list[AccountSummary]:
        return [AccountSummary(r["account"], r["name"], r["cash"], r["blocked"], r["margin"],
                               [(k["key_id"], k["scopes"], k["label"], k["active"])
                                for k in r["keys"]]) for r in self._rows]

    async def create_account(self, name: str, funds: int = 0, scopes: int = 0,
                             label: str = "") -> tuple[int, Credentials | None]:
        made = await self._call("create_account", name=name, funds=funds,
                                scopes=scope_names(scopes), label=label)
        return made["account"], _credentials(made, name) if "key_id" in made else None

    async def fund(self, account: int, amount: int) -> None:
        await self._call("fund", account=account, amount=amount)

    async def new_key(self, account: int, scopes: int, label: str = "",
                      ips: tuple[str, ...] = ()) -> Credentials:
        made = await self._call("new_key", account=account, scopes=scope_names(scopes),
                                label=label, ips=list(ips))
        return _credentials(made, str(account))

    async def set_user(self, username: str, account: int, role: str, password: str,
                       active: bool = True) -> None:
        await self._call("set_user", account=account, username=username, role=role,
                         password=password, active=active)

    async def revoke_key(self, account: int, key_id: str) -> None:
        await self._call("revoke_key", account=account, key_id=key_id)

    async def _call(self, op: str, **args: object) -> dict:
        try:
            return await self.client.request(op, **args)
        except ClientError as exc:
            raise AdminError(exc.code, str(exc.error.get("message", ""))) from None


def _credentials(made: dict, name: str) -> Credentials:
    return Credentials(made["account"], name, made["key_id"], made["secret"], made["scopes"])
