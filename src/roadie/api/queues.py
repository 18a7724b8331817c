"""One queue, the list ``queue:<name>``, and the summary that Stats reads for every queue."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from roadie.api._common import (
    PAGE_SIZE,
    _after_cursor,
    _enqueued_latency,
    _RedisBound,
    _text,
    _translated,
)
from roadie.api.records import JobRecord
from roadie.client import Client
from roadie.config import Settings


@dataclasses.dataclass(frozen=True)
class QueueSummary:
    """A queue's name, size, latency in seconds and paused state, read in one pipeline."""

    name: str
    size: int
    latency: float
    paused: bool


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
