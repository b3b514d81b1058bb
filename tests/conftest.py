"""Suite-wide setup."""

# Imported before any test runs: pytest rewrites the modules of its plugins as they are
# imported, and CPython 3.11 can raise "AST constructor recursion depth mismatch" when it
# parses one late, at the session's end, after tests have used threads (gh-106905).
import hypothesis  # noqa: F401
import pytest


@pytest.fixture(autouse=True)
def any_hour(monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers that tests start (in this process or as processes) trade at whatever hour the
    tests run: no daily intraday square-off or end of day by the wall clock, unless a test
    configures them. The schedule itself is tested with time as data."""
    monkeypatch.setenv("GRIDWORKS_SQUARE_OFF_AT", "")
    monkeypatch.setenv("GRIDWORKS_END_OF_DAY_AT", "")
