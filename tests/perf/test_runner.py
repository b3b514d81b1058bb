"""The benchmark tooling works end to end on small inputs (figures are not checked here:
speed lives in perf/, tests check correctness)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perf import runner, streams


@pytest.fixture(autouse=True)
def small_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streams, "CACHE", tmp_path / "cache")


def test_standard_stream_has_the_documented_mix() -> None:
    rows = streams.standard_stream(20_000, seed=3)
    kinds = rows[:, 0]
    assert abs((kinds == 2).mean() - 0.30) < 0.02  # cancels
    assert abs((rows[:, 8] == 2).mean() - 0.10) < 0.02  # IOC
    assert (rows[:, 1] == range(2, 20_002)).all()  # gapless sequence numbers
    assert (streams.standard_stream(20_000, seed=3) == rows).all()  # cached and seeded


@pytest.mark.parametrize(("scenario", "ops"), [
    ("engine", 20_000), ("batch", 20_000), ("replay", 20_000), ("risk", 20_000), ("mtm", 3),
])
def test_scenarios_print_json_and_plot(scenario: str, ops: int, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out, chart = tmp_path / "out.json", tmp_path / "chart.html"
    args = [scenario, "--ops", str(ops), "--repeat", "1", "--out", str(out), "--plot", str(chart)]
    assert runner.main(args) == 0
    document = json.loads(capsys.readouterr().out)
    assert document == json.loads(out.read_text())
    assert document["machine"]["versions"]["numba"]
    assert "goals" in document["results"]
    assert chart.stat().st_size > 10_000
    if scenario == "engine":
        assert document["results"]["check"]["books_agree"] is True
    if scenario == "risk":
        assert document["results"]["check"]["same_trades_and_book"] is True
        assert document["results"]["check"]["rejected"] == 0
    if scenario == "mtm":
        assert document["results"]["check"]["agrees_with_numpy"] is True
    if scenario == "replay":
        assert document["results"]["state_hash_matches_live_run"] is True


def test_the_wake_scenario_times_a_core_step_after_each_kind_of_wait(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, chart = tmp_path / "out.json", tmp_path / "chart.html"
    assert runner.main(["wake", "--ops", "300", "--out", str(out), "--plot", str(chart)]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results["calls"] == 300
    assert results["back_to_back_us"]["p50"] > 0
    for gap in (300, 1_000):
        case = results[f"after {gap} us"]
        assert case["asleep_us"]["p50"] > 0
        assert case["polling_us"]["p50"] > 0
        assert case["asleep_over_polling_p50"] > 0
    assert chart.stat().st_size > 10_000


def test_the_terminal_scenario_measures_the_page_in_chromium(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.clients.browser import chromium_path

    chromium_path()  # skips (or fails in CI) without Debian's chromium
    out, chart = tmp_path / "out.json", tmp_path / "chart.html"
    assert runner.main(["terminal", "--ops", "2", "--out", str(out), "--plot", str(chart)]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    case = results["speed 2"]
    run = case["streaming"][0]
    assert case["instruments"] == 20
    assert run["instruments_in_watchlist"] == 20
    assert run["frames_with_writes"] > 0
    assert run["fps"] > 0
    assert set(case["goals_met"]) == set(results["goals"])
    assert results["bundle"]["js_gzip_kb"] > 0
    assert chart.stat().st_size > 10_000


def test_every_scenario_can_be_drawn() -> None:
    from perf import plot, runner

    assert set(runner.SCENARIOS) == set(plot.BUILDERS)
