"""Counters, sizes, queue latency and the daily history of processed and failed jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from roadie.api._common import _enqueued_latency, _int, _RedisBound, _text, _translated
from roadie.api.queues import QueueSummary
from roadie.client import Client
from roadie.config import Settings

# Days of daily counters that Stats.history reads at most: the five years
# for which the daily keys are kept.
MAX_HISTORY_DAYS = 1825


class Stats(_RedisBound):
    """Counters and sizes, read in two pipelined round trips on first use; :meth:`refresh` reads again."""

    def __init__(
        self, client: Client | None = None, *, url: str | None = None, settings: Settings | None = None
    ) -> None:
        super().__init__(client, url=url, settings=settings)
        self._values: dict[str, Any] | None = None

    @_translated
    def refresh(self) -> Stats:
        """Read every counter and size again; return self."""
        keys = self.keys
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.get(keys.stat_processed)
            pipe.get(keys.stat_failed)
            pipe.zcard(keys.schedule)
            pipe.zcard(keys.retry)
            pipe.zcard(keys.dead)
            pipe.scard(keys.processes)
            pipe.lindex(keys.queue("default"), -1)
            pipe.smembers(keys.queues)
            pipe.smembers(keys.processes)
            processed, failed, scheduled, retries, dead, processes, oldest_default, queues, identities = pipe.execute()
        queue_names = sorted(_text(name) or "" for name in queues)
        process_names = sorted(_text(name) or "" for name in identities)
        with self.connection.pipeline(transaction=False) as pipe:
            for name in queue_names:
                pipe.llen(keys.queue(name))
            for identity in process_names:
                pipe.hget(keys.process(identity), "busy")
            replies = pipe.execute()
        sizes = replies[: len(queue_names)]
        self._values = {
            "processed": _int(processed),
            "failed": _int(failed),
            "scheduled_size": int(scheduled),
            "retry_size": int(retries),
            "dead_size": int(dead),
            "processes_size": int(processes),
            "default_queue_latency": _enqueued_latency(oldest_default),
            "enqueued": sum(int(size) for size in sizes),
            "workers_size": sum(_int(busy) for busy in replies[len(queue_names):]),
        }
        return self

    def _value(self, name: str) -> Any:
        if self._values is None:
            self.refresh()
        assert self._values is not None
        return self._values[name]

    @property
    def processed(self) -> int:
        """Jobs run since the counters were last reset, failures included."""
        return cast(int, self._value("processed"))

    @property
    def failed(self) -> int:
        return cast(int, self._value("failed"))

    @property
    def enqueued(self) -> int:
        """Jobs waiting in all queues."""
        return cast(int, self._value("enqueued"))

    @property
    def scheduled_size(self) -> int:
        return cast(int, self._value("scheduled_size"))

    @property
    def retry_size(self) -> int:
        return cast(int, self._value("retry_size"))

    @property
    def dead_size(self) -> int:
        return cast(int, self._value("dead_size"))

    @property
    def processes_size(self) -> int:
        """Identities in the ``processes`` set, including any whose record expired and is not yet pruned."""
        return cast(int, self._value("processes_size"))

    @property
    def workers_size(self) -> int:
        """Jobs running now: the sum of ``busy`` over live processes."""
        return cast(int, self._value("workers_size"))

    @property
    def default_queue_latency(self) -> float:
        return cast(float, self._value("default_queue_latency"))

    def as_dict(self) -> dict[str, Any]:
        """Return every counter and size by name, as for Sidekiq's ``/stats`` endpoint."""
        if self._values is None:
            self.refresh()
        return dict(cast(dict[str, Any], self._values))

    @_translated
    def queues(self) -> dict[str, int]:
        """Return queue name to size, largest first (ties by name)."""
        summaries = self.queue_summaries()
        ordered = sorted(summaries, key=lambda summary: (-summary.size, summary.name))
        return {summary.name: summary.size for summary in ordered}

    @_translated
    def queue_summaries(self) -> list[QueueSummary]:
        """Return name, size, latency and paused state of every queue, sorted by name."""
        names = sorted(_text(name) or "" for name in self.connection.smembers(self.keys.queues))
        with self.connection.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.llen(self.keys.queue(name))
                pipe.lindex(self.keys.queue(name), -1)
                pipe.sismember(self.keys.paused, name)
            replies = pipe.execute()
        return [
            QueueSummary(name, int(replies[3 * index]), _enqueued_latency(replies[3 * index + 1]),
                         bool(replies[3 * index + 2]))
            for index, name in enumerate(names)
        ]

    @_translated
    def history(self, days: int = 7, start: dt.date | None = None) -> dict[str, dict[dt.date, int]]:
        """Return the daily counters: ``{"processed": {date: n}, "failed": {...}}``, newest day first.

        Reads ``days`` UTC days ending at ``start`` (default: today, UTC), with
        one MGET per counter. Days without a key count 0. Raises ValueError
        unless ``days`` is between 1 and 1825, the five years the keys live.
        """
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_HISTORY_DAYS:
            raise ValueError(f"days must be an integer from 1 to {MAX_HISTORY_DAYS}, got {days!r}")
        if isinstance(start, dt.datetime):
            # The daily keys are named by UTC date.
            start = (start.astimezone(dt.timezone.utc) if start.tzinfo else start).date()
        start = start or dt.datetime.now(dt.timezone.utc).date()
        dates = [start - dt.timedelta(days=offset) for offset in range(days)]
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.mget([self.keys.stat_processed_day(day) for day in dates])
            pipe.mget([self.keys.stat_failed_day(day) for day in dates])
            processed, failed = pipe.execute()
        return {
            "processed": {day: _int(value) for day, value in zip(dates, processed)},
            "failed": {day: _int(value) for day, value in zip(dates, failed)},
        }

    @_translated
    def reset(self, *names: str) -> None:
        """Set the all-time counters named (``processed``, ``failed``; default both) to 0."""
        counters = {"processed": self.keys.stat_processed, "failed": self.keys.stat_failed}
        unknown = sorted(set(names) - set(counters))
        if unknown:
            raise ValueError(f"unknown counter {unknown[0]!r}; expected 'processed' or 'failed'")
        chosen = names or tuple(counters)
        self.connection.mset({counters[name]: 0 for name in chosen})
        self._values = None

    @_translated
    def redis_info(self) -> dict[str, Any]:
        """Return the server's name, version, uptime, clients and memory, as the dashboard shows them."""
        info = self.connection.info()
        store = "Valkey" if "valkey_version" in info else "Redis"
        return {
            "store": store,
            "version": str(info.get("valkey_version") or info.get("redis_version", "")),
            "uptime_in_days": info.get("uptime_in_days"),
            "connected_clients": info.get("connected_clients"),
            "used_memory_human": info.get("used_memory_human"),
            "used_memory_peak_human": info.get("used_memory_peak_human"),
        }
