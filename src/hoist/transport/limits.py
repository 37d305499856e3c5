"""Per-registry throttles: requests per second and requests in flight, shared by every thread.

A Transport keeps one :class:`HostLimiter` per registry host, so the limits hold across all the
concurrent work of a command (a copy's blob workers, its manifest reads, its uploads).

``req_concurrent`` counts requests in flight, a streamed body included until it is closed. A
thread that already holds a slot of a host may take another without waiting (it streams a blob
from the registry while it uploads it back to the same registry): waiting there could only
deadlock, and the work is still that one thread's.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["HostLimiter", "Slot"]


class Slot:
    """A held request slot; :meth:`release` is idempotent."""

    def __init__(self, release: Callable[[], None] | None) -> None:
        self._release = release
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            release, self._release = self._release, None
        if release is not None:
            release()


class HostLimiter:
    """``rate`` requests a second (a token bucket allowing a burst of one second's worth) and
    ``concurrent`` requests at once; None for no limit."""

    def __init__(
        self,
        rate: float | None = None,
        concurrent: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.concurrent = concurrent
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0  # when the next request may start (rate)
        self._cond = threading.Condition()
        self._in_flight = 0
        self._holders: dict[int, int] = {}  # thread -> slots held

    def pace(self) -> float:
        """Wait for the rate limit; returns the seconds waited."""
        if self.rate is None:
            return 0.0
        interval = 1.0 / self.rate
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + interval
        wait = start - now
        if wait > 0:
            self._sleep(wait)
        return max(wait, 0.0)

    def acquire(self) -> Slot:
        """A request slot (waits while ``concurrent`` are in flight on other threads)."""
        if self.concurrent is None:
            return Slot(None)
        owner = threading.get_ident()
        with self._cond:
            if not self._holders.get(owner):
                while self._in_flight >= self.concurrent:
                    self._cond.wait()
            self._in_flight += 1
            self._holders[owner] = self._holders.get(owner, 0) + 1

        def release() -> None:
            with self._cond:
                self._in_flight -= 1
                left = self._holders.get(owner, 1) - 1
                if left > 0:
                    self._holders[owner] = left
                else:
                    self._holders.pop(owner, None)
                self._cond.notify_all()

        return Slot(release)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight
