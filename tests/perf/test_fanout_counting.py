"""The fan-out benchmark expects only the updates the driver caused while a subscriber was
counting, so its delivered share cannot exceed what was sent."""

from __future__ import annotations

from perf.scenarios.fanout import updates_since

DRIVEN = {"sent": 800, "start_ns": 1_000_000_000, "interval_ns": 10_000_000.0}


def test_updates_due_before_counting_began_are_not_expected() -> None:
    assert updates_since(DRIVEN, 2_000_000_000) == 700  # the first second's 100 left out
    assert updates_since(DRIVEN, 2_000_000_001) == 699  # command 100 was due just before


def test_counting_from_before_the_driver_started_expects_everything_it_sent() -> None:
    assert updates_since(DRIVEN, 0) == 800


def test_counting_from_after_the_driver_stopped_expects_nothing() -> None:
    assert updates_since(DRIVEN, 10_000_000_000) == 0
