"""How the server's event loop waits for the next order: asleep in the kernel, or polling.

By default (``idle = "sleep"``) the loop blocks in epoll between orders and its core may
halt. On a virtual machine the next order then meets a core that has lost the server's
code and data from its caches: a core step of one order right after a sleep of 0.3 ms took
1.5 to 2 times as long as right after 0.3 ms of polling (``gridworks bench wake``). With
``idle = "spin"`` the loop keeps polling (epoll with a zero timeout) for ``linger`` after
the last batch the node committed, the busy-poll idle strategy of low-latency engines: it
trades a whole core for the orders that follow each other within the linger. Once the
linger has passed without work the loop sleeps again, looking every ``nap`` for new work,
so an idle server costs nothing.

`Linger` is the decision, driven by time and a work counter as data; `BusyPoll` is its
event-loop shell: a callback that schedules itself again at once while spinning (which is
what makes the loop poll instead of block) and after ``nap`` otherwise.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Literal

IdlePolicy = Literal["sleep", "spin"]
NAP_S = 0.002


class Linger:
    """Spin while the work counter moved within the last ``linger_ns``."""

    def __init__(self, linger_ns: int) -> None:
        if linger_ns < 0:
            raise ValueError("the linger cannot be negative")
        self.linger_ns = linger_ns
        self._work: int | None = None  # the first reading is a baseline: a server starts asleep
        self._last_work_ns: int | None = None

    def spin(self, now_ns: int, work: int) -> bool:
        """Whether to keep polling, given the time and the work counter's reading now."""
        if self._work is not None and work != self._work:
            self._last_work_ns = now_ns
        self._work = work
        return self._last_work_ns is not None and now_ns - self._last_work_ns < self.linger_ns


class BusyPoll:
    """Keeps ``loop`` polling while ``work()`` (e.g. the node's committed batches) moves."""

    def __init__(self, loop: asyncio.AbstractEventLoop, work: Callable[[], int],
                 linger_s: float, nap_s: float = NAP_S,
                 clock: Callable[[], int] = time.monotonic_ns) -> None:
        self._loop = loop
        self._work = work
        self._linger = Linger(int(linger_s * 1e9))
        self._nap_s = nap_s
        self._clock = clock
        self._handle: asyncio.Handle | None = None
        self.polls = 0  # turns of the loop spent polling (shown in /status)

    @property
    def running(self) -> bool:
        return self._handle is not None

    def start(self) -> None:
        if self._handle is None:
            self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def status(self) -> dict[str, object]:
        return {"policy": "spin", "linger_ms": self._linger.linger_ns / 1e6,
                "polls": self.polls}

    def _tick(self) -> None:
        if self._linger.spin(self._clock(), self._work()):
            self.polls += 1
            self._handle = self._loop.call_soon(self._tick)
        else:
            self._handle = self._loop.call_later(self._nap_s, self._tick)


def start_idle_policy(policy: IdlePolicy, work: Callable[[], int],
                      linger_ms: float) -> BusyPoll | None:
    """The running loop's idle policy: a started `BusyPoll` for ``spin``, nothing for
    ``sleep``."""
    if policy == "sleep":
        return None
    if policy != "spin":
        raise ValueError(f"unknown idle policy {policy!r} (sleep or spin)")
    poll = BusyPoll(asyncio.get_running_loop(), work, linger_ms / 1e3)
    poll.start()
    return poll
