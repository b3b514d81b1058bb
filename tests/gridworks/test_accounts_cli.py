"""The embedded default's first accounts, and ``gridworks accounts`` on a data directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from accounts import keys
from engine.sequencer import CountingClock
from gridworks import cli
from gridworks.admin import DEMO, DEMO_FUNDS, OPERATOR, read_credentials
from gridworks.config import NodeConfig
from gridworks.node import Node


def quiet(data: Path) -> NodeConfig:
    return NodeConfig(data_dir=data, max_orders=1024, max_accounts=64, square_off_at="",
                      end_of_day_at="", mark_interval_ms=-1)


async def test_the_first_start_creates_an_operator_and_a_funded_demo_trader(
        tmp_path: Path) -> None:
    node = Node(quiet(tmp_path), clock=CountingClock())
    await node.start()
    try:
        made = {c.name: c for c in node.first_credentials}
        assert set(made) == {OPERATOR, DEMO}
        assert made[OPERATOR].scopes == ["read", "admin"]
        assert made[DEMO].scopes == ["read", "trade"]
        demo = made[DEMO]
        assert node.core is not None
        record = node.core.registry.active_key(demo.key_id)
        assert record is not None
        assert record.account == demo.account
        assert keys.unseal(record.grant, node.kek) == demo.secret
        cash = {r[0]: r[1] for r in node.core.risk.state().accounts.tolist()}
        assert cash[demo.account] == DEMO_FUNDS
        for name in (OPERATOR, DEMO):
            path = tmp_path / "credentials" / f"{name}.json"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert read_credentials(tmp_path, name) == made[name]
    finally:
        await node.stop()
    again = Node(quiet(tmp_path), clock=CountingClock())
    await again.start()
    try:
        assert again.first_credentials == []
        assert again.core is not None
        assert len(again.core.registry.accounts) == 2
    finally:
        await again.stop()


def accounts(data: Path, *args: str) -> list[str]:
    return ["accounts", "--data", str(data), *args]


def test_the_accounts_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWORKS_MAX_ACCOUNTS", "64")
    assert cli.main(accounts(tmp_path, "create", "Asha Rao", "--fund", "2500.50",
                             "--label", "laptop")) == 0
    out = capsys.readouterr().out
    assert "account 3 'Asha Rao' created, funded with ₹2,500.50" in out
    secret = next(line.split()[1] for line in out.splitlines() if line.startswith("secret"))
    key_id = next(line.split()[2] for line in out.splitlines() if line.startswith("key id"))

    assert cli.main(accounts(tmp_path, "fund", "asha rao", "-500")) == 0
    assert cli.main(accounts(tmp_path, "keys", "3", "--new", "--scopes", "read")) == 0
    assert cli.main(accounts(tmp_path, "keys", "3", "--revoke", key_id)) == 0
    capsys.readouterr()
    assert cli.main(accounts(tmp_path, "list")) == 0
    listing = capsys.readouterr().out
    row = next(line for line in listing.splitlines() if "Asha Rao" in line)
    assert "2,000.50" in row
    assert f"{key_id}(read+trade, revoked)" in row
    assert "(read)" in row

    assert cli.main(accounts(tmp_path, "fund", "nobody", "5")) == 1
    assert "UNKNOWN_ACCOUNT" in capsys.readouterr().err
    assert cli.main(accounts(tmp_path, "fund", "demo", "-99999999")) == 1
    assert "WITHDRAWAL_EXCEEDS_FREE_CASH" in capsys.readouterr().err

    # The secret was shown once and is nowhere on disk in clear.
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_the_accounts_command_refuses_a_directory_in_use(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from gridworks.datadir import DataDirLock

    monkeypatch.setenv("GRIDWORKS_MAX_ACCOUNTS", "64")
    with DataDirLock(tmp_path):
        assert cli.main(accounts(tmp_path, "list")) == 1
    assert "stop the server" in capsys.readouterr().err


async def test_the_accounts_command_asks_the_running_server(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    from gateway.server import Gateway, GatewayConfig
    from gridworks.admin import Admin

    node = Node(quiet(tmp_path))
    await node.start()
    gateway = Gateway(node, node.kek, GatewayConfig(port=0), admin=Admin(node, node.kek))
    await gateway.start()
    monkeypatch.setenv("GRIDWORKS_PORT", str(gateway.port))
    monkeypatch.setenv("GRIDWORKS_MAX_ACCOUNTS", "64")
    try:
        created = await asyncio.to_thread(
            cli.main, accounts(tmp_path, "create", "Ravi", "--fund", "100"))
        assert created == 0
        out = capsys.readouterr().out
        assert "account 3 'Ravi' created, funded with ₹100.00" in out
        assert await asyncio.to_thread(cli.main, accounts(tmp_path, "list")) == 0
        row = next(line for line in capsys.readouterr().out.splitlines() if "Ravi" in line)
        assert "100.00" in row
        refused = await asyncio.to_thread(cli.main, accounts(tmp_path, "fund", "Ravi", "-500"))
        assert refused == 1
        assert "WITHDRAWAL_EXCEEDS_FREE_CASH" in capsys.readouterr().err
        assert node.core is not None
        assert node.core.registry.account_named("Ravi") is not None  # in the live node
    finally:
        await gateway.stop(reconnect_after_ms=0)
        await node.stop()


def test_users_with_passwords(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                              monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from engine.recovery import recover

    monkeypatch.setenv("GRIDWORKS_MAX_ACCOUNTS", "64")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert cli.main(accounts(tmp_path, "user", "demo", "Asha.Trader", "--role", "trader")) == 0
    assert "user 'asha.trader' (trader)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(accounts(tmp_path, "user", "demo", "other.user")) == 1
    assert "at least 10 characters" in capsys.readouterr().err
    assert cli.main(accounts(tmp_path, "keys", "demo", "--new", "--ip", "10.0.0.0/8")) == 0
    core, _ = recover(tmp_path, repair=False)
    user = core.registry.user("asha.trader")
    assert user is not None
    assert user.grant.role == "trader"
    assert "a long enough password" not in user.grant.password_hash
    assert core.registry.user("other.user") is None
    fenced = [k for k in core.registry.keys.values() if k.grant.ips]
    assert [k.grant.ips for k in fenced] == [("10.0.0.0/8",)]
