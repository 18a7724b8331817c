"""Move scheduled jobs and retries to their queues when they are due.

Each poll runs the ``enqueue_due`` Lua script on ``retry`` and then
``schedule``. The script moves up to 100 due jobs per call atomically and
returns the score of the next job. The poller then sleeps until that job is
due or until a random interval passes, whichever is first. The interval is
scaled by the number of processes, as Sidekiq scales it, so a fleet polls
Redis about as often as one process; the next-due wake-up is what keeps a
single process precise.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any

from roadie import middleware
from roadie._time import now
from roadie.config import Settings
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS, OutageLog, backoff_delays

__all__ = ["Poller"]

logger = logging.getLogger(__name__)

# Jobs moved per script call; a bounded call keeps Redis responsive when a
# large backlog becomes due at once.
_BATCH = 100

# Seconds between refreshes of the process count that scales the interval.
_PROCESS_COUNT_TTL = 60.0


class Poller:
    """Thread ``roadie.poller``. Lifecycle: :meth:`start`, :meth:`stop`."""

    def __init__(self, settings: Settings, keys: Keys, connection: Any, scripts: dict[str, Any]) -> None:
        self._settings = settings
        self._keys = keys
        self._connection = connection
        self._script = scripts["enqueue_due"]
        self._stopping = threading.Event()
        self._rng = random.Random()
        self._process_count = 1
        self._process_count_at = 0.0
        self._outage = OutageLog(logger, "moving scheduled jobs", settings.resolved_redis_url)
        self._thread = threading.Thread(target=self._run, name="roadie.poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def enqueue_due(self) -> float | None:
        """Move every due job now; return the epoch time of the next scheduled job, or None."""
        next_times = []
        for key in (self._keys.retry, self._keys.schedule):
            while True:
                moved, next_score = self._script(
                    keys=[key, self._keys.queues, self._keys.dead],
                    args=[repr(now()), _BATCH, self._keys.prefix],
                    client=self._connection,
                )
                if moved:
                    logger.debug("moved %d due jobs from %s to their queues", moved, key)
                if moved < _BATCH:
                    break
            if next_score:
                next_times.append(float(next_score))
        return min(next_times) if next_times else None

    def due_jobs_exist(self) -> bool:
        """Return True when a scheduled or retry job is due now (used by burst mode)."""
        current = now()
        for key in (self._keys.retry, self._keys.schedule):
            if self._connection.zrangebyscore(key, "-inf", current, start=0, num=1):
                return True
        return False

    def _run(self) -> None:
        delays = backoff_delays()
        # Spread the first poll of processes started together.
        self._stopping.wait(self._rng.random() * 0.5)
        while not self._stopping.is_set():
            try:
                next_due = self.enqueue_due()
                self._outage.succeeded()
                delays = backoff_delays()
            except CONNECTION_ERRORS as exc:
                self._outage.failed(exc)
                self._stopping.wait(next(delays))
                continue
            except Exception as exc:
                logger.exception("moving due jobs failed; retrying after the poll interval")
                middleware.call_error_handlers(exc, {"context": "moving scheduled jobs"})
                next_due = None
            self._stopping.wait(self._sleep_seconds(next_due))

    def _sleep_seconds(self, next_due: float | None) -> float:
        interval = self._interval()
        if next_due is not None:
            # Wake when the next job is due. The small random delay keeps a
            # fleet from calling the script at the same instant.
            until_due = max(0.0, next_due - now()) + self._rng.random() * min(0.05 * self._process_count, 1.0)
            return min(interval, until_due)
        return interval

    def _interval(self) -> float:
        fixed = self._settings.poll_interval_average
        if fixed is not None:
            average = fixed
        else:
            average = self._processes() * self._settings.average_scheduled_poll_interval
        # Uniform on [0.5, 1.5] x average, as Sidekiq spreads it.
        return average * (0.5 + self._rng.random())

    def _processes(self) -> int:
        if time.monotonic() - self._process_count_at > _PROCESS_COUNT_TTL:
            try:
                self._process_count = max(1, int(self._connection.scard(self._keys.processes)))
                self._process_count_at = time.monotonic()
            except CONNECTION_ERRORS:
                pass
        return self._process_count
