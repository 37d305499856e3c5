"""``sync serve``: the same sync on a schedule, reloading its config when asked.

::

    server = SyncServer(lambda: load_config("sync.yaml"), make_client, events=sink)
    signal.signal(signal.SIGHUP, lambda *_: server.reload())
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    server.run()                      # until stop(); each run plans and applies

The schedule is the config's ``defaults.schedule`` (``interval`` or ``cron``), or the one given.
An interval counts from the start of the last run (a run longer than the interval is followed at
once by the next); a cron line names the minutes to start at (local time). :meth:`reload` reads
the config again before the next run; a config that does not load is reported and the old one
kept. A run that fails as a whole (a registry down) is reported and the schedule goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hoist.errors import HoistError, InvalidInput
from hoist.sync.config import Schedule, SyncConfig
from hoist.sync.events import ConfigReloaded, NextRun

if TYPE_CHECKING:
    from hoist.client import Client
    from hoist.sync.apply import ApplyResult
    from hoist.sync.events import EventSink

__all__ = ["SyncServer", "next_run"]

log = logging.getLogger(__name__)


def next_run(schedule: Schedule, last_start: float, now: float) -> float:
    """When the run after one started at ``last_start`` begins (seconds since the epoch)."""
    if schedule.cron is not None:
        moment = datetime.fromtimestamp(now)
        return schedule.cron.next_after(moment).timestamp()
    interval = (schedule.interval or timedelta(hours=1)).total_seconds()
    return max(now, last_start + interval)


class SyncServer:
    """Runs plan-and-apply on a schedule until :meth:`stop` (thread- and signal-safe)."""

    def __init__(
        self,
        load: Callable[[], SyncConfig],
        client: Callable[[SyncConfig], Client],
        *,
        events: EventSink | None = None,
        schedule: Schedule | None = None,
        on_result: Callable[[ApplyResult], None] | None = None,
        on_error: Callable[[Exception], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._load = load
        self._client = client
        self._events = events
        self._schedule = schedule
        self._on_result = on_result
        self._on_error = on_error
        self._clock = clock
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._reloading = threading.Event()
        self.runs = 0
        self.config = load()
        self.schedule()  # a config without a schedule fails here, before the first run

    def schedule(self) -> Schedule:
        schedule = self._schedule or self.config.schedule
        if schedule is None:
            raise InvalidInput(
                "no schedule: set defaults.schedule (interval: 1h, or cron: '0 */6 * * *') "
                "in the config"
            )
        return schedule

    def reload(self) -> None:
        """Read the config again before the next run (from a signal handler too)."""
        self._reloading.set()
        self._wake.set()

    def stop(self) -> None:
        """Start no further run; the one going on stops starting images."""
        self._stopping.set()
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self, *, runs: int | None = None) -> None:
        """Run until stopped (or ``runs`` runs, for tests)."""
        while not self._stopping.is_set():
            started = self._clock()
            self._run_once()
            self.runs += 1
            if runs is not None and self.runs >= runs:
                return
            self._wait_for_next(started)

    def _run_once(self) -> None:
        from hoist.sync.apply import sync_apply

        config = self.config
        try:
            with self._client(config) as client:
                result = sync_apply(client, config, events=self._events, stop=self._stopping)
        except HoistError as exc:
            log.error("sync run failed: %s", exc)
            if self._on_error is not None:
                self._on_error(exc)
            return
        if self._on_result is not None:
            self._on_result(result)

    def _wait_for_next(self, started: float) -> None:
        while not self._stopping.is_set():
            if self._reloading.is_set():
                self._reloading.clear()
                self._do_reload()
            at = next_run(self.schedule(), started, self._clock())
            if self._events is not None:
                self._events(NextRun(at, str(self.schedule())))
            while True:
                left = at - self._clock()
                if left <= 0 or self._stopping.is_set():
                    return
                self._wake.wait(min(left, 60.0))
                if self._wake.is_set():
                    self._wake.clear()
                    if self._reloading.is_set():
                        break  # reload, then compute the next time again

    def _do_reload(self) -> None:
        try:
            config = self._load()
        except (HoistError, OSError) as exc:
            log.error("config not reloaded (the old one stays): %s", exc)
            if self._events is not None:
                self._events(ConfigReloaded(False, str(exc)))
            if self._on_error is not None:
                self._on_error(exc)
            return
        self.config = config
        log.info("config reloaded")
        if self._events is not None:
            self._events(ConfigReloaded(True))
