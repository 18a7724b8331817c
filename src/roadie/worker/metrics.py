"""Per-job execution metrics, kept in memory and flushed with each heartbeat.

They are written where Sidekiq 8 writes its own, so roadie's dashboard and
Sidekiq's Metrics page read the same data:

- ``j|YYMMDD|H:MM`` (UTC, hour without padding), a hash kept 8 hours, and
  ``j|YYMMDD|H:T`` (T the tens digit of the minute), kept 3 days, with the
  fields ``<job>|p`` (runs), ``<job>|f`` (failures) and ``<job>|ms`` (total
  milliseconds of successful runs);
- ``h|<job>-D-H:M``, a histogram of run times: 26 unsigned 16-bit counters in
  one BITFIELD, saturating at 65,535, kept 8 hours.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from collections import defaultdict
from typing import Any

from roadie.storage.keys import HISTOGRAM_BOUNDS_MS, Keys

__all__ = ["HISTOGRAM_BOUNDS_MS", "Metrics"]

_MINUTE_TTL = 8 * 3600
_ROLLUP_TTL = 3 * 24 * 3600
_HISTOGRAM_TTL = 8 * 3600


class Metrics:
    """Thread-safe counters per job name; :meth:`flush` writes and resets them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
        self._histograms: dict[str, list[int]] = defaultdict(lambda: [0] * (len(HISTOGRAM_BOUNDS_MS) + 1))

    def track(self, name: str, elapsed_seconds: float, failed: bool) -> None:
        milliseconds = int(elapsed_seconds * 1000)
        bucket = bisect.bisect_right(HISTOGRAM_BOUNDS_MS, milliseconds)
        with self._lock:
            counts = self._counts[name]
            counts[0] += 1
            if failed:
                counts[1] += 1
            else:
                counts[2] += milliseconds
            self._histograms[name][bucket] += 1

    def take(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        with self._lock:
            counts, self._counts = self._counts, defaultdict(lambda: [0, 0, 0])
            histograms, self._histograms = self._histograms, defaultdict(
                lambda: [0] * (len(HISTOGRAM_BOUNDS_MS) + 1)
            )
        return dict(counts), dict(histograms)

    def give_back(self, counts: dict[str, list[int]], histograms: dict[str, list[int]]) -> None:
        """Return data whose flush failed, so the next heartbeat writes it."""
        with self._lock:
            for name, values in counts.items():
                mine = self._counts[name]
                for index, value in enumerate(values):
                    mine[index] += value
            for name, buckets in histograms.items():
                mine = self._histograms[name]
                for index, value in enumerate(buckets):
                    mine[index] += value

    def flush(self, connection: Any, keys: Keys, moment: dt.datetime | None = None) -> None:
        """Write what was tracked since the last flush, in one pipeline."""
        counts, histograms = self.take()
        if not counts:
            return
        moment = (moment or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
        minute_key = keys.metrics_key(f"{moment:%y%m%d}|{moment.hour}:{moment:%M}")
        rollup_key = keys.metrics_key(f"{moment:%y%m%d}|{moment.hour}:{moment.minute // 10}")
        try:
            with connection.pipeline(transaction=False) as pipe:
                for key, ttl in ((minute_key, _MINUTE_TTL), (rollup_key, _ROLLUP_TTL)):
                    for name, (runs, failures, milliseconds) in counts.items():
                        pipe.hincrby(key, f"{name}|p", runs)
                        if failures:
                            pipe.hincrby(key, f"{name}|f", failures)
                        if milliseconds:
                            pipe.hincrby(key, f"{name}|ms", milliseconds)
                    pipe.expire(key, ttl)
                for name, buckets in histograms.items():
                    key = keys.histogram_key(name, f"{moment.day}-{moment.hour}:{moment.minute}")
                    command: list[Any] = ["BITFIELD", key, "OVERFLOW", "SAT"]
                    for index, value in enumerate(buckets):
                        if value:
                            command += ["INCRBY", "u16", f"#{index}", value]
                    pipe.execute_command(*command)
                    pipe.expire(key, _HISTOGRAM_TTL)
                pipe.execute()
        except BaseException:
            self.give_back(counts, histograms)
            raise
