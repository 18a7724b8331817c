"""Read and manage what roadie and Sidekiq keep in Redis: the admin API.

The classes carry the names of Sidekiq's API, with Python methods::

    from roadie.api import DeadSet, Queue, RetrySet, Stats

    Stats().enqueued                         # jobs waiting in all queues
    for job in Queue("default"):             # newest first, read in pages
        if job.job_class == "HardJob":
            job.delete()
    RetrySet().retry_all()                   # every retry back to its queue now
    DeadSet().find_job(jid).retry()

* :class:`Stats`: counters, sizes, latency and daily history.
* :class:`Queue`: one queue list; :meth:`Queue.all` lists them.
* :class:`ScheduledSet`, :class:`RetrySet`, :class:`DeadSet`: the sorted sets,
  whose entries are :class:`SortedEntry` objects.
* :class:`ProcessSet` of :class:`Process`: live workers, quiet and stop them.
* :class:`WorkSet` of :class:`Work`: the jobs running right now.

Every class takes ``client``, a :class:`roadie.Client` whose connection and
namespace it uses, or ``url``/``settings`` to build one; without either it
uses the process-wide client that ``roadie.configure`` sets. Nothing connects
until the first read. Redis that cannot be reached raises
:class:`~roadie.errors.RedisUnavailableError`.

Jobs are removed from lists and sorted sets by the exact bytes read from
Redis, so a payload written by Ruby, with its own key order and spacing, is
found and removed as it is. Iteration reads in pages and follows concurrent
pushes, pops and deletes without repeating or skipping a job that stays in
place, with one exception noted at :meth:`Queue.__iter__`.

Times are float epoch seconds, and latencies are seconds, everywhere;
timestamps that Sidekiq 8 writes as integer milliseconds are converted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import functools
import inspect
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

import orjson
import redis

from roadie import payload
from roadie._time import epoch_from_timestamp, now, to_epoch
from roadie.client import Client, default_client
from roadie.config import Settings
from roadie.errors import JobArgumentError, PayloadError
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS, unavailable
from roadie.storage.scripts import script_source

__all__ = [
    "DeadSet",
    "JobRecord",
    "JobSet",
    "Process",
    "ProcessSet",
    "Queue",
    "QueueSummary",
    "RetrySet",
    "ScheduledSet",
    "SortedEntry",
    "SortedSet",
    "Stats",
    "Work",
    "WorkSet",
]

logger = logging.getLogger(__name__)

# Jobs read per LRANGE or ZRANGE while iterating.
PAGE_SIZE = 50
# Entries popped per ZPOPMIN, or moved per script call, by the set-wide actions.
DRAIN_BATCH = 100
# Days of daily counters that Stats.history reads at most: the five years
# for which the daily keys are kept.
MAX_HISTORY_DAYS = 1825
# Remote signals expire if no process pops them within this many seconds.
SIGNAL_TTL = 60
# Sidekiq's lock that lets one caller a minute prune the `processes` set.
PROCESS_CLEANUP_LOCK_SECONDS = 60
# Remote signals a process understands: quiet, stop, and log every thread's stack.
SIGNALS = frozenset({"TSTP", "TERM", "TTIN"})

_Function = TypeVar("_Function", bound=Callable[..., Any])


# ------------------------------------------------------------------ plumbing


def _client_for(client: Client | None, url: str | None, settings: Settings | None) -> Client:
    if client is not None:
        if url is not None or settings is not None:
            raise TypeError("pass either client or url/settings, not both")
        return client
    if url is not None or settings is not None:
        return Client(url, settings=settings)
    return default_client()


def _translated(method: _Function) -> _Function:
    """Turn redis-py connection errors raised in ``method`` into RedisUnavailableError."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with self._redis_errors():
                yield from method(self, *args, **kwargs)

        return cast(_Function, generator)

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._redis_errors():
            return method(self, *args, **kwargs)

    return cast(_Function, call)


class _RedisBound:
    """Base of every API class: the client, its connection, keys and settings."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        url: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.client = _client_for(client, url, settings)

    @property
    def connection(self) -> redis.Redis:
        return self.client.connection

    @property
    def keys(self) -> Keys:
        return self.client.keys

    @property
    def settings(self) -> Settings:
        return self.client.settings

    @contextlib.contextmanager
    def _redis_errors(self) -> Iterator[None]:
        try:
            yield
        except CONNECTION_ERRORS as exc:
            raise unavailable(self.client.url, exc) from exc

    def _script(self, name: str) -> Any:
        return self.connection.register_script(script_source(name))


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _int(value: bytes | str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _float(value: bytes | str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _glob_escape(text: str) -> str:
    """Escape the characters Redis glob patterns treat specially, so ``text`` matches literally."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _decode_item(raw: bytes) -> tuple[dict[str, Any], bool]:
    """Return the job hash in ``raw`` and True, or for anything but a JSON object, ``{"args": [text]}`` and False."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value, True
    return {"args": [raw.decode("utf-8", "replace")]}, False


def _enqueued_latency(raw: bytes | None) -> float:
    """Return seconds since the job in ``raw`` was pushed; 0.0 without a readable ``enqueued_at``."""
    if raw is None:
        return 0.0
    item, _ = _decode_item(raw)
    enqueued_at = epoch_from_timestamp(item.get("enqueued_at"))
    if enqueued_at is None:
        return 0.0
    return max(0.0, now() - enqueued_at)


def _prepare_push(client: Client, item: dict[str, Any]) -> Any:
    """Run ``item`` through the client's push path without writing it; None when a middleware stopped it.

    Returns the client's prepared job (``queue``, ``data``), with a fresh
    ``enqueued_at``. Raises JobArgumentError for a hash the client rejects.
    """
    # NOTE: this uses Client internals so a move out of a sorted set gets the
    # same validation, client middleware and enqueued_at as Client.push, while
    # removal and push still run in one Lua call. A public Client method that
    # prepares without writing would remove the coupling.
    item = dict(item)
    item.pop("at", None)
    normalized = client._normalize(item)
    final = client.middleware.invoke((normalized, normalized["queue"]), lambda: normalized)
    if final is None:
        return None
    return client._prepare(final)


# ---------------------------------------------------------------- job records


class JobRecord:
    """One job read from Redis: the exact bytes and the decoded hash.

    ``raw`` is what Redis holds, used to delete the job. ``item`` is the
    decoded hash; for a payload that is not a JSON object it is
    ``{"args": [raw text]}`` and ``valid`` is False.
    """

    def __init__(self, raw: bytes | str, *, queue: str | None = None, owner: _RedisBound | None = None) -> None:
        self.raw = raw.encode("utf-8") if isinstance(raw, str) else raw
        self.item, self.valid = _decode_item(self.raw)
        self._queue_name = queue
        self._owner = owner

    # Values from the job hash.

    @property
    def jid(self) -> str | None:
        return self._str("jid")

    @property
    def class_name(self) -> str | None:
        """The ``class`` key: the job name workers look up."""
        return self._str("class")

    @property
    def job_class(self) -> str | None:
        """The name to show: ``display_class``, else ``wrapped`` (ActiveJob's real class), else ``class``."""
        return self._str("display_class") or self._str("wrapped") or self._str("class")

    @property
    def args(self) -> list[Any]:
        args = self.item.get("args")
        return args if isinstance(args, list) else []

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs = self.item.get("kwargs")
        return kwargs if isinstance(kwargs, dict) else {}

    @property
    def queue(self) -> str | None:
        """The queue the job was read from, else the payload's ``queue``."""
        return self._queue_name or self._str("queue")

    @property
    def tags(self) -> list[str]:
        tags = self.item.get("tags")
        return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []

    @property
    def retry_count(self) -> int | None:
        count = self.item.get("retry_count")
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    @property
    def enqueued_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("enqueued_at"))

    @property
    def created_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("created_at"))

    @property
    def failed_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("failed_at"))

    @property
    def retried_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("retried_at"))

    @property
    def latency(self) -> float:
        """Seconds since the job was pushed (or created, without ``enqueued_at``); 0.0 if neither is known."""
        since = self.enqueued_at or self.created_at
        return max(0.0, now() - since) if since is not None else 0.0

    @property
    def error_class(self) -> str | None:
        return self._str("error_class")

    @property
    def error_message(self) -> str | None:
        return self._str("error_message")

    @property
    def error_backtrace(self) -> list[str] | None:
        """The backtrace lines, or None when the job has none or it cannot be decoded."""
        value = self.item.get("error_backtrace")
        if isinstance(value, list) and all(isinstance(line, str) for line in value):
            # Sidekiq 6.4 also read a plain JSON array here.
            return value
        if not isinstance(value, str):
            return None
        try:
            return payload.decode_backtrace(value)
        except ValueError:
            return None

    def get(self, key: str, default: Any = None) -> Any:
        """Return the job hash's ``key``, or ``default``."""
        return self.item.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.item[key]

    # Actions.

    def delete(self) -> bool:
        """Remove this job from its queue (LREM of the exact bytes); False when it is no longer there."""
        owner = self._require_owner()
        queue = self.queue
        if queue is None:
            return False
        with owner._redis_errors():
            return bool(owner.connection.lrem(owner.keys.queue(queue), 1, self.raw))

    def _require_owner(self) -> _RedisBound:
        if self._owner is None:
            raise TypeError("this JobRecord was built without a queue or set to act on")
        return self._owner

    def _str(self, key: str) -> str | None:
        value = self.item.get(key)
        return value if isinstance(value, str) and value else None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and cast(JobRecord, other).raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.job_class or '(invalid payload)'} jid={self.jid} queue={self.queue}>"


class SortedEntry(JobRecord):
    """A job in the scheduled, retry or dead set, with its score."""

    def __init__(self, parent: SortedSet, raw: bytes | str, score: float) -> None:
        super().__init__(raw, owner=parent)
        self.parent = parent
        self.score = float(score)

    @property
    def at(self) -> float:
        """When the job is due (scheduled, retry) or when it died (dead), epoch seconds: the score."""
        return self.score

    @property
    def key(self) -> str:
        """``<score>-<jid>``, the key Sidekiq's Web UI uses for an entry."""
        return f"{self.score!r}-{self.jid}"

    def delete(self) -> bool:
        """Remove the entry (ZREM of the exact bytes); False when it is no longer in the set."""
        with self.parent._redis_errors():
            return bool(self.parent.connection.zrem(self.parent.key, self.raw))

    def reschedule(self, at: dt.datetime | float) -> bool:
        """Change the entry's score to ``at``; False when it is no longer in the set."""
        with self.parent._redis_errors():
            return bool(self.parent.connection.zadd(self.parent.key, {self.raw: to_epoch(at)}, xx=True, ch=True))

    def retry(self) -> bool:
        """Push the job to its queue now; retry and dead entries get one attempt back, as "Retry Now" does.

        Returns False when the entry was no longer in the set (another
        operator or the poller moved it), so a job is never pushed twice.
        """
        if not isinstance(self.parent, JobSet):
            raise TypeError(f"entries of {self.parent.name!r} cannot be pushed to a queue")
        return self.parent._push_entry(self, decrement=self.parent.retry_decrements_count)

    def add_to_queue(self) -> bool:
        """Push the job to its queue now, unchanged; False when it was no longer in the set."""
        if not isinstance(self.parent, JobSet):
            raise TypeError(f"entries of {self.parent.name!r} cannot be pushed to a queue")
        return self.parent._push_entry(self, decrement=False)

    def kill(self) -> bool:
        """Move the entry to the dead set, trimmed as the worker trims it; False when it was gone."""
        return self.parent._kill_members([self.raw]) == 1

    def __repr__(self) -> str:
        name = self.job_class or "(invalid payload)"
        return f"<SortedEntry {self.parent.name} {name} jid={self.jid} score={self.score}>"


# -------------------------------------------------------------------- paging


def _after_cursor(page: Sequence[Any], last: bytes, member: Callable[[Any], bytes]) -> list[Any] | None:
    """Return ``page`` minus its first element when that element is ``last``, else None."""
    if page and member(page[0]) == last:
        return list(page[1:])
    return None


# -------------------------------------------------------------------- queues


class Queue(_RedisBound):
    """One queue: the list ``queue:<name>``, newest job first."""

    page_size = PAGE_SIZE

    def __init__(
        self,
        name: str = "default",
        client: Client | None = None,
        *,
        url: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        super().__init__(client, url=url, settings=settings)
        self.name = name

    @classmethod
    def all(
        cls, client: Client | None = None, *, url: str | None = None, settings: Settings | None = None
    ) -> list[Queue]:
        """Return every queue named in the ``queues`` set, sorted by name."""
        bound = _RedisBound(client, url=url, settings=settings)
        with bound._redis_errors():
            names = sorted(_text(name) or "" for name in bound.connection.smembers(bound.keys.queues))
        return [cls(name, bound.client) for name in names]

    @property
    def key(self) -> str:
        return self.keys.queue(self.name)

    @property
    @_translated
    def size(self) -> int:
        return int(self.connection.llen(self.key))

    @property
    @_translated
    def latency(self) -> float:
        """Seconds since the oldest job was pushed; 0.0 for an empty queue."""
        return _enqueued_latency(self.connection.lindex(self.key, -1))

    @property
    @_translated
    def paused(self) -> bool:
        """True when the queue is in the ``paused`` set, which roadie workers and Sidekiq Pro skip."""
        return bool(self.connection.sismember(self.keys.paused, self.name))

    @_translated
    def pause(self) -> None:
        self.connection.sadd(self.keys.paused, self.name)

    @_translated
    def unpause(self) -> None:
        self.connection.srem(self.keys.paused, self.name)

    @_translated
    def clear(self) -> int:
        """Delete every job and remove the name from ``queues``, in one MULTI; return how many jobs went."""
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.llen(self.key)
            pipe.unlink(self.key)
            pipe.srem(self.keys.queues, self.name)
            size, _, _ = pipe.execute()
        return int(size)

    @_translated
    def page(self, start: int, count: int) -> tuple[int, list[JobRecord]]:
        """Return the queue size and ``count`` jobs from index ``start`` (0 is the newest), in one round trip."""
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.llen(self.key)
            pipe.lrange(self.key, start, start + count - 1)
            size, raws = pipe.execute()
        return int(size), [JobRecord(raw, queue=self.name, owner=self) for raw in raws]

    def __iter__(self) -> Iterator[JobRecord]:
        """Yield the jobs newest first, reading ``page_size`` at a time with LRANGE.

        Each page starts after the last job yielded, found again with LPOS, so
        jobs pushed or deleted meanwhile shift nothing.

        NOTE: when the queue contains byte-identical copies of a job and
        changes during iteration, LPOS finds the first copy, so a few jobs may
        be yielded twice.
        """
        for page in self._pages():
            for raw in page:
                yield JobRecord(raw, queue=self.name, owner=self)

    def find_job(self, jid: str) -> JobRecord | None:
        """Return the job with ``jid``, scanning the queue page by page; None if absent."""
        needle = jid.encode("utf-8")
        for page in self._pages():
            for raw in page:
                if needle not in raw:
                    continue
                record = JobRecord(raw, queue=self.name, owner=self)
                if record.jid == jid:
                    return record
        return None

    @_translated
    def _pages(self) -> Iterator[list[bytes]]:
        size = self.page_size
        page: list[bytes] = self.connection.lrange(self.key, 0, size - 1)
        start = 0
        while page:
            yield page
            last = page[-1]
            expected = start + len(page)
            # Read from the last job yielded on: if it is still where it was,
            # this page follows it directly. Only a shifted list costs an LPOS,
            # which scans from the head.
            candidate = self.connection.lrange(self.key, expected - 1, expected + size - 1)
            following = _after_cursor(candidate, last, lambda raw: raw)
            if following is not None:
                start, page = expected, following
                continue
            start = self._resume_position(page, expected)
            page = self.connection.lrange(self.key, start, start + size - 1)

    def _resume_position(self, previous: list[bytes], expected: int) -> int:
        """Return where the next page starts after the list shifted under the cursor."""
        # Deleting jobs while iterating shifts the list by a few places, so
        # look for the previous page near where it was before paying for LPOS,
        # which scans from the head and reads the whole list for a missing job.
        near = max(0, expected - 2 * len(previous))
        window = self.connection.lrange(self.key, near, expected + len(previous))
        wanted = set(previous)
        for index in range(len(window) - 1, -1, -1):
            if window[index] in wanted:
                return near + index + 1
        position = self.connection.lpos(self.key, previous[-1])
        if position is not None:
            return int(position) + 1
        # Every job of the previous page is gone: resume where it started.
        return max(0, expected - len(previous))

    def __repr__(self) -> str:
        return f"<Queue {self.name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Queue) and other.name == self.name and other.keys.prefix == self.keys.prefix

    def __hash__(self) -> int:
        return hash((self.keys.prefix, self.name))


# --------------------------------------------------------------- sorted sets


class SortedSet(_RedisBound):
    """A sorted set of jobs scored by epoch seconds. Subclasses name the key."""

    #: Attribute of :class:`~roadie.storage.keys.Keys` that names the key, and the set's name.
    name = ""
    #: Iteration order: False for lowest score first.
    newest_first = False
    page_size = PAGE_SIZE

    @property
    def key(self) -> str:
        return cast(str, getattr(self.keys, self.name))

    @property
    @_translated
    def size(self) -> int:
        return int(self.connection.zcard(self.key))

    @_translated
    def clear(self) -> int:
        """Delete every entry; return how many there were."""
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.zcard(self.key)
            pipe.unlink(self.key)
            size, _ = pipe.execute()
        return int(size)

    @_translated
    def page(self, start: int, count: int) -> tuple[int, list[SortedEntry]]:
        """Return the set size and ``count`` entries from position ``start`` in iteration order, in one round trip."""
        with self.connection.pipeline(transaction=False) as pipe:
            pipe.zcard(self.key)
            pipe.zrange(self.key, start, start + count - 1, desc=self.newest_first, withscores=True)
            size, pairs = pipe.execute()
        return int(size), [SortedEntry(self, raw, score) for raw, score in pairs]

    def __iter__(self) -> Iterator[SortedEntry]:
        """Yield the entries in score order (newest first for the dead set), ``page_size`` per ZRANGE.

        Each page starts after the last entry yielded, located again by its
        rank or, once it is gone, by its score, so entries added, removed or
        moved meanwhile make the iteration neither repeat nor skip others.
        """
        for page in self._pages():
            for raw, score in page:
                yield SortedEntry(self, raw, score)

    @_translated
    def scan(self, substring: str) -> Iterator[SortedEntry]:
        """Yield the entries whose bytes contain ``substring`` (ZSCAN MATCH), in no particular order."""
        seen: set[bytes] = set()
        pattern = f"*{_glob_escape(substring)}*"
        for raw, score in self.connection.zscan_iter(self.key, match=pattern, count=100):
            if raw not in seen:
                # ZSCAN may return an entry twice while the set is rehashed.
                seen.add(raw)
                yield SortedEntry(self, raw, score)

    def find_job(self, jid: str) -> SortedEntry | None:
        """Return the entry whose jid is ``jid``, found with ZSCAN; None if absent."""
        for entry in self.scan(jid):
            if entry.jid == jid:
                return entry
        return None

    def find_jobs(self, jid: str) -> list[SortedEntry]:
        """Return every entry whose jid is ``jid`` (a job pushed twice has two)."""
        return [entry for entry in self.scan(jid) if entry.jid == jid]

    @_translated
    def fetch(self, score: float, jid: str | None = None) -> list[SortedEntry]:
        """Return the entries scored exactly ``score``, only those with ``jid`` when given."""
        bound = repr(float(score))
        found = self.connection.zrange(self.key, bound, bound, byscore=True, withscores=True)
        entries = [SortedEntry(self, raw, entry_score) for raw, entry_score in found]
        return [entry for entry in entries if jid is None or entry.jid == jid]

    @_translated
    def _pages(self) -> Iterator[list[tuple[bytes, float]]]:
        size = self.page_size
        page = self._range(0, size - 1)
        start = 0
        while page:
            yield page
            last_raw, last_score = page[-1]
            expected = start + len(page)
            following = _after_cursor(self._range(expected - 1, expected + size - 1), last_raw, lambda pair: pair[0])
            if following is not None:
                start, page = expected, following
                continue
            start = self._position_after(last_raw, last_score)
            page = self._range(start, start + size - 1)

    def _range(self, first: int, last: int) -> list[tuple[bytes, float]]:
        return list(self.connection.zrange(self.key, first, last, desc=self.newest_first, withscores=True))

    def _position_after(self, member: bytes, score: float) -> int:
        """Return the index, in iteration order, just after ``member``, whether or not it is still in the set."""
        with self.connection.pipeline(transaction=True) as pipe:
            if self.newest_first:
                pipe.zrevrank(self.key, member)
                pipe.zcount(self.key, f"({score!r}", "+inf")
            else:
                pipe.zrank(self.key, member)
                pipe.zcount(self.key, "-inf", f"({score!r}")
            pipe.zrange(self.key, repr(score), repr(score), byscore=True)
            rank, before, ties = pipe.execute()
        if rank is not None:
            return int(rank) + 1
        # Redis orders equal scores by the members' bytes, as Python orders bytes.
        if self.newest_first:
            earlier_ties = sum(1 for tie in ties if tie > member)
        else:
            earlier_ties = sum(1 for tie in ties if tie < member)
        return int(before) + earlier_ties

    def _kill_members(self, members: Sequence[bytes]) -> int:
        with self._redis_errors():
            return self._run_kill(batch=0, bound="+inf", members=members)

    def _run_kill(self, *, batch: int, bound: str, members: Sequence[bytes] = ()) -> int:
        died = now()
        return int(self._script("kill_entries")(
            keys=[self.key, self.keys.dead],
            args=[repr(died), repr(died - self.settings.dead_timeout), self.settings.dead_max_jobs, batch, bound,
                  *members],
            client=self.connection,
        ))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key!r}>"


class JobSet(SortedSet):
    """A sorted set whose entries can go back to their queues: scheduled, retry and dead."""

    #: True where "Retry Now" gives an attempt back by decrementing retry_count.
    retry_decrements_count = False

    @_translated
    def retry_all(self) -> int:
        """Push every entry to its queue now; return how many were pushed. See :meth:`add_to_queue_all`."""
        return self._drain(decrement=self.retry_decrements_count)

    @_translated
    def add_to_queue_all(self) -> int:
        """Push every entry to its queue now, unchanged; return how many were pushed.

        Entries are taken with ZPOPMIN in batches, so each is pushed once
        however the set changes meanwhile. Entries added later with a score
        above the highest one at the start stay in the set, and so do entries
        that cannot be pushed (not a JSON object, or rejected by the client).

        NOTE: a batch is out of Redis between ZPOPMIN and the push. It is put
        back if the push fails, but a process killed in that moment loses it.
        """
        return self._drain(decrement=False)

    @_translated
    def kill_all(self) -> int:
        """Move every entry to the dead set, trimmed as the worker trims it; return how many moved."""
        highest = self._highest_score()
        if highest is None:
            return 0
        total = 0
        while True:
            moved = self._run_kill(batch=DRAIN_BATCH, bound=repr(highest))
            total += moved
            if moved < DRAIN_BATCH:
                return total

    def _push_entry(self, entry: SortedEntry, *, decrement: bool) -> bool:
        if not entry.valid:
            raise PayloadError(f"cannot push this {self.name} entry to a queue: its payload is not a JSON object")
        item = self._pushable_item(entry.item, decrement)
        with self._redis_errors():
            prepared = _prepare_push(self.client, item)
            if prepared is None:
                # A client middleware stopped the push: the entry is dropped,
                # as Sidekiq drops it.
                self.connection.zrem(self.key, entry.raw)
                return False
            moved = self._script("push_entry")(
                keys=[self.key, self.keys.queues, self.keys.queue(prepared.queue)],
                args=[entry.raw, prepared.data, prepared.queue],
                client=self.connection,
            )
        return int(moved) == 1

    @staticmethod
    def _pushable_item(item: Mapping[str, Any], decrement: bool) -> dict[str, Any]:
        pushable = dict(item)
        count = pushable.get("retry_count")
        if decrement and isinstance(count, int) and not isinstance(count, bool):
            # Sidekiq decrements even 0, to -1, so the next failure records 0
            # again and an exhausted job gets exactly one more attempt.
            pushable["retry_count"] = count - 1
        return pushable

    def _highest_score(self) -> float | None:
        top = self.connection.zrange(self.key, -1, -1, withscores=True)
        return float(top[0][1]) if top else None

    def _drain(self, *, decrement: bool) -> int:
        highest = self._highest_score()
        if highest is None:
            return 0
        pushed = 0
        left: dict[bytes, float] = {}
        try:
            while True:
                popped = self.connection.zpopmin(self.key, DRAIN_BATCH)
                if not popped:
                    break
                batch = [(raw, score) for raw, score in popped if score <= highest]
                left.update((raw, score) for raw, score in popped if score > highest)
                pushed += self._push_popped(batch, decrement, left)
                if len(batch) < len(popped):
                    break
        finally:
            if left:
                self.connection.zadd(self.key, left)
        return pushed

    def _push_popped(self, batch: list[tuple[bytes, float]], decrement: bool, left: dict[bytes, float]) -> int:
        """Push popped entries; entries that cannot be pushed go into ``left`` to be put back."""
        jobs = []
        for raw, score in batch:
            item, valid = _decode_item(raw)
            if not valid:
                left[raw] = score
                continue
            try:
                jobs.append(self.client._normalize(self._pushable_item(item, decrement)))
            except JobArgumentError as exc:
                logger.warning("leaving %s entry %s in place: %s", self.name, item.get("jid"), exc)
                left[raw] = score
        try:
            jids = self.client.push_many(jobs)
        except BaseException:
            # Put the whole batch back before the error propagates; for the
            # valid jobs this may duplicate a few that reached the queue.
            left.update(batch)
            raise
        return sum(1 for jid in jids if jid is not None)


class ScheduledSet(JobSet):
    """``schedule``: jobs to push at a later time, soonest first."""

    name = "schedule"


class RetrySet(JobSet):
    """``retry``: failed jobs waiting for their next attempt, soonest first."""

    name = "retry"
    retry_decrements_count = True


class DeadSet(JobSet):
    """``dead``: jobs out of retries, newest death first, trimmed by ``dead_max_jobs`` and ``dead_timeout``."""

    name = "dead"
    newest_first = True
    retry_decrements_count = True

    @_translated
    def kill(self, job: bytes | str | Mapping[str, Any], *, trim: bool = True) -> None:
        """Add a job to the dead set now: raw bytes or text as they are, or a job hash encoded as JSON."""
        raw = payload.dumps(dict(job)) if isinstance(job, Mapping) else job
        with self.connection.pipeline(transaction=True) as pipe:
            pipe.zadd(self.key, {raw: now()})
            if trim:
                self._trim_commands(pipe)
            pipe.execute()

    @_translated
    def trim(self) -> None:
        """Remove entries older than ``dead_timeout``, then the oldest beyond ``dead_max_jobs``."""
        with self.connection.pipeline(transaction=True) as pipe:
            self._trim_commands(pipe)
            pipe.execute()

    def kill_all(self) -> int:
        raise TypeError("the jobs in the dead set are dead already")

    def _trim_commands(self, pipe: Any) -> None:
        cutoff = now() - self.settings.dead_timeout
        pipe.zremrangebyscore(self.key, "-inf", f"({cutoff!r}")
        pipe.zremrangebyrank(self.key, 0, -(self.settings.dead_max_jobs + 1))


# --------------------------------------------------------------------- stats


@dataclasses.dataclass(frozen=True)
class QueueSummary:
    """A queue's name, size, latency in seconds and paused state, read in one pipeline."""

    name: str
    size: int
    latency: float
    paused: bool


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


# ----------------------------------------------------------------- processes

_PROCESS_FIELDS = ("info", "busy", "beat", "quiet", "rss", "rtt_us", "concurrency")


class Process:
    """A live worker process, from its ``<identity>`` hash and the ``info`` JSON in it.

    Reads Sidekiq 6.4 to 8.1 records: ``capsules`` (8.0.9+) take precedence
    over ``queues``/``weights``, and the ``concurrency`` field (8.1.2+) over
    the one in ``info``. The quiet state is :attr:`stopping`, because
    :meth:`quiet` is the action.
    """

    def __init__(self, owner: _RedisBound, identity: str, info: dict[str, Any], fields: Mapping[str, Any]) -> None:
        self._owner = owner
        self.identity = identity
        self.info = info
        self.busy = _int(fields.get("busy"))
        self.beat = _float(fields.get("beat"))
        self.stopping = fields.get("quiet") in (b"true", "true")
        self.rss = _int(fields.get("rss"))
        self.rtt_us = _int(fields.get("rtt_us"))
        self._concurrency_field = fields.get("concurrency")

    @property
    def hostname(self) -> str | None:
        return _info_str(self.info, "hostname")

    @property
    def pid(self) -> int | None:
        pid = self.info.get("pid")
        return pid if isinstance(pid, int) else None

    @property
    def tag(self) -> str | None:
        return _info_str(self.info, "tag")

    @property
    def version(self) -> str | None:
        return _info_str(self.info, "version")

    @property
    def labels(self) -> list[str]:
        labels = self.info.get("labels")
        return [str(label) for label in labels] if isinstance(labels, list) else []

    @property
    def started_at(self) -> float | None:
        return epoch_from_timestamp(self.info.get("started_at"))

    @property
    def embedded(self) -> bool:
        return self.info.get("embedded") is True

    @property
    def capsules(self) -> dict[str, Any]:
        capsules = self.info.get("capsules")
        return capsules if isinstance(capsules, dict) else {}

    @property
    def queues(self) -> list[str]:
        """Queue names in the order the process lists them, across capsules."""
        names: list[str] = []
        for capsule in self.capsules.values():
            weights = capsule.get("weights") if isinstance(capsule, dict) else None
            if isinstance(weights, dict):
                names.extend(name for name in weights if name not in names)
        if names:
            return names
        queues = self.info.get("queues")
        return [str(name) for name in queues] if isinstance(queues, list) else []

    @property
    def weights(self) -> list[dict[str, int]]:
        """One queue-to-weight map per capsule."""
        from_capsules = [
            capsule["weights"] for capsule in self.capsules.values()
            if isinstance(capsule, dict) and isinstance(capsule.get("weights"), dict)
        ]
        if from_capsules:
            return from_capsules
        weights = self.info.get("weights")
        return [entry for entry in weights if isinstance(entry, dict)] if isinstance(weights, list) else []

    @property
    def concurrency(self) -> int:
        """Threads of the process: the ``concurrency`` field, else ``info``, else the sum over capsules."""
        if self._concurrency_field is not None:
            return _int(self._concurrency_field)
        value = self.info.get("concurrency")
        if isinstance(value, int):
            return value
        return sum(
            capsule.get("concurrency", 0) for capsule in self.capsules.values()
            if isinstance(capsule, dict) and isinstance(capsule.get("concurrency"), int)
        )

    def quiet(self) -> None:
        """Ask the process to stop fetching jobs (TSTP); it obeys at its next heartbeat."""
        self.signal("TSTP")

    def stop(self) -> None:
        """Ask the process to shut down (TERM); it obeys at its next heartbeat."""
        self.signal("TERM")

    def dump_threads(self) -> None:
        """Ask the process to log every thread's stack (TTIN)."""
        self.signal("TTIN")

    def signal(self, name: str) -> None:
        """Queue a remote signal (``TSTP``, ``TERM`` or ``TTIN``) for the process to pop."""
        if name not in SIGNALS:
            raise ValueError(f"unknown signal {name!r}; expected one of {', '.join(sorted(SIGNALS))}")
        key = self._owner.keys.signals(self.identity)
        with self._owner._redis_errors(), self._owner.connection.pipeline(transaction=True) as pipe:
            pipe.lpush(key, name)
            pipe.expire(key, SIGNAL_TTL)
            pipe.execute()

    def __repr__(self) -> str:
        return f"<Process {self.identity} busy={self.busy}/{self.concurrency}{' stopping' if self.stopping else ''}>"


def _info_str(info: Mapping[str, Any], key: str) -> str | None:
    value = info.get(key)
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


class ProcessSet(_RedisBound):
    """The live processes, sorted by identity. Records that expired are skipped; :meth:`cleanup` prunes them."""

    @_translated
    def __iter__(self) -> Iterator[Process]:
        identities = self._identities()
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.hmget(self.keys.process(identity), _PROCESS_FIELDS)
            records = pipe.execute()
        for identity, values in zip(identities, records):
            process = self._build(identity, values)
            if process is not None:
                yield process

    @_translated
    def get(self, identity: str) -> Process | None:
        """Return the live process ``identity``, or None when its record is missing or expired."""
        return self._build(identity, self.connection.hmget(self.keys.process(identity), _PROCESS_FIELDS))

    @property
    @_translated
    def size(self) -> int:
        """Identities in the ``processes`` set, as Sidekiq counts them (expired ones until pruned)."""
        return int(self.connection.scard(self.keys.processes))

    @property
    def total_concurrency(self) -> int:
        return sum(process.concurrency for process in self)

    @property
    def total_rss(self) -> int:
        """Resident memory of all live processes, in KB."""
        return sum(process.rss for process in self)

    @property
    @_translated
    def leader(self) -> str | None:
        """Identity of the Sidekiq Enterprise leader (``dear-leader``), or None."""
        return _text(self.connection.get(f"{self.keys.prefix}dear-leader"))

    @_translated
    def cleanup(self) -> int:
        """Remove identities whose record expired from ``processes``; return how many.

        Takes Sidekiq's ``process_cleanup`` lock (SET NX EX 60) first, so
        this runs at most once a minute across roadie and Sidekiq. Returns 0
        without looking when another caller holds the lock.
        """
        lock = f"{self.keys.prefix}process_cleanup"
        if not self.connection.set(lock, "1", nx=True, ex=PROCESS_CLEANUP_LOCK_SECONDS):
            return 0
        identities = self._identities()
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.hget(self.keys.process(identity), "info")
            infos = pipe.execute()
        gone = [identity for identity, info in zip(identities, infos) if info is None]
        if gone:
            self.connection.srem(self.keys.processes, *gone)
        return len(gone)

    def quiet_all(self) -> int:
        """Send TSTP to every live process; return how many."""
        return self._signal_all("TSTP")

    def stop_all(self) -> int:
        """Send TERM to every live process; return how many."""
        return self._signal_all("TERM")

    def _signal_all(self, name: str) -> int:
        processes = list(self)
        for process in processes:
            process.signal(name)
        return len(processes)

    def _identities(self) -> list[str]:
        return sorted({_text(identity) or "" for identity in self.connection.sscan_iter(self.keys.processes)})

    def _build(self, identity: str, values: Sequence[Any]) -> Process | None:
        fields = dict(zip(_PROCESS_FIELDS, values))
        if fields["info"] is None:
            return None
        try:
            info = orjson.loads(fields["info"])
        except orjson.JSONDecodeError:
            info = None
        if not isinstance(info, dict):
            logger.warning("process %s has an info field that is not a JSON object; skipping it", identity)
            return None
        return Process(self, identity, info, fields)


# ---------------------------------------------------------------------- work


class Work:
    """A job running now: the process and thread running it, its queue, start time and payload."""

    def __init__(self, owner: _RedisBound, identity: str, tid: str, data: Mapping[str, Any]) -> None:
        self.identity = identity
        self.tid = tid
        self.queue = data.get("queue") if isinstance(data.get("queue"), str) else None
        self.run_at = epoch_from_timestamp(data.get("run_at"))
        job = data.get("payload")
        # Sidekiq 7 and later store the payload as a JSON string; 6.x nested the object.
        raw = payload.dumps(job) if isinstance(job, (dict, list)) else str(job or "").encode("utf-8")
        self.payload = JobRecord(raw, queue=self.queue, owner=owner)

    @property
    def job(self) -> JobRecord:
        return self.payload

    def __repr__(self) -> str:
        return f"<Work {self.identity} tid={self.tid} {self.payload.job_class} jid={self.payload.jid}>"


class WorkSet(_RedisBound):
    """The jobs running now, read from each live process's busy map, oldest start first.

    Reads ``<identity>:work`` and, for Sidekiq 6.4 processes, ``<identity>:workers``.
    """

    @_translated
    def __iter__(self) -> Iterator[tuple[str, str, Work]]:
        identities = sorted({_text(name) or "" for name in self.connection.sscan_iter(self.keys.processes)})
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.exists(self.keys.process(identity))
                pipe.hgetall(self.keys.work(identity))
                pipe.hgetall(f"{self.keys.process(identity)}:workers")
            replies = pipe.execute()
        running: list[tuple[str, str, Work]] = []
        for index, identity in enumerate(identities):
            alive, work, workers = replies[3 * index: 3 * index + 3]
            if not alive:
                continue
            for tid, value in (work or workers).items():
                running.append((identity, _text(tid) or "", self._work(identity, _text(tid) or "", value)))
        running.sort(key=lambda entry: entry[2].run_at or 0.0)
        yield from running

    def _work(self, identity: str, tid: str, value: bytes) -> Work:
        try:
            data = orjson.loads(value)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            data = {"payload": _text(value)}
        return Work(self, identity, tid, data)

    @property
    @_translated
    def size(self) -> int:
        """Jobs running now: the sum of ``busy`` over live processes, without reading the busy maps."""
        identities = list(self.connection.sscan_iter(self.keys.processes))
        with self.connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.hget(self.keys.process(_text(identity) or ""), "busy")
            return sum(_int(busy) for busy in pipe.execute())

    def find_work(self, jid: str) -> Work | None:
        """Return the running job with ``jid``, or None."""
        for _, _, work in self:
            if work.payload.jid == jid:
                return work
        return None
