"""A generator's wait polls until just before the due time, then spins, reading all along."""

from __future__ import annotations

from perf.pacing import wait_until


def test_the_wait_polls_with_what_is_left_before_the_spin_then_spins_to_the_due_time() -> None:
    now = [0]
    timeouts: list[float] = []

    def clock() -> int:
        return now[0]

    def read(timeout: float) -> None:
        timeouts.append(timeout)
        # a poll that sleeps its whole timeout and wakes 30 us late; a spin step costs 10 us
        now[0] += int(timeout * 1e9) + 30_000 if timeout else 10_000

    wait_until(1_000_000, read, 60_000, clock)
    assert timeouts[0] == 940_000 / 1e9  # all but the spin
    assert timeouts[1:] == [0.0] * 3  # woke at 970 us: spin 10 us at a time to 1,000 us
    assert now[0] == 1_000_000


def test_a_due_time_already_past_reads_nothing() -> None:
    calls: list[float] = []
    wait_until(5, calls.append, 60_000, lambda: 10)
    assert calls == []
