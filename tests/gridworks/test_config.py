"""Configuration from flags and environment, with clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from gridworks import cli
from gridworks.config import (
    ConfigError,
    NodeConfig,
    from_environment,
    gateway_limits,
    with_overrides,
)


def test_environment_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWORKS_DATA_DIR", "/srv/gw")
    monkeypatch.setenv("GRIDWORKS_PORT", "9000")
    monkeypatch.setenv("GRIDWORKS_FSYNC", "os")
    monkeypatch.setenv("GRIDWORKS_OPEN_MARKET", "no")
    config = from_environment()
    assert config.data_dir == Path("/srv/gw")
    assert (config.port, config.fsync, config.open_market) == (9000, "os", False)
    assert config.snapshot_every == NodeConfig().snapshot_every


def test_flags_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWORKS_PORT", "9000")
    config = with_overrides(from_environment(), port=7000, host=None)
    assert config.port == 7000
    assert config.host == "127.0.0.1"


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("GRIDWORKS_FSYNC", "sometimes", "GRIDWORKS_FSYNC"),
    ("GRIDWORKS_PORT", "eighty", "GRIDWORKS_PORT"),
    ("GRIDWORKS_OPEN_MARKET", "maybe", "expected true or false"),
    ("GRIDWORKS_IDLE", "doze", "GRIDWORKS_IDLE"),
    ("GRIDWORKS_SPIN_LINGER_MS", "-5", ">= 0"),
])
def test_bad_values_name_the_setting(monkeypatch: pytest.MonkeyPatch, variable: str,
                                     value: str, message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=message):
        from_environment()


def test_the_cli_reports_a_bad_setting_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GRIDWORKS_FSYNC", "sometimes")
    assert cli.main(["serve"]) == 2
    assert "GRIDWORKS_FSYNC" in capsys.readouterr().err


def test_gateway_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRIDWORKS_WS_MESSAGES_PER_S", "120")
    monkeypatch.setenv("GRIDWORKS_WS_CONNECTIONS_PER_IP", "5")
    monkeypatch.setenv("GRIDWORKS_ALLOWED_ORIGINS", "https://a.example, http://localhost:5173")
    limits = gateway_limits(from_environment())
    assert (limits.messages_per_s, limits.connections_per_ip) == (120.0, 5)
    assert limits.allowed_origins == ("https://a.example", "http://localhost:5173")
    assert limits.max_subscriptions == gateway_limits(NodeConfig()).max_subscriptions
