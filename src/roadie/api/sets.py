"""The sorted sets of jobs (scheduled, retry, dead) and their entries."""

from __future__ import annotations

import datetime as dt
import logging
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from roadie import payload
from roadie._time import now, to_epoch
from roadie.api._common import (
    PAGE_SIZE,
    _after_cursor,
    _decode_item,
    _glob_escape,
    _prepare_push,
    _RedisBound,
    _translated,
)
from roadie.api.records import JobRecord
from roadie.errors import JobArgumentError, PayloadError

logger = logging.getLogger(__name__)

# Entries popped per ZPOPMIN, or moved per script call, by the set-wide actions.
DRAIN_BATCH = 100

# Entries read per ZRANGE by SortedSet.search.
SEARCH_CHUNK = 1000


def _advance(cursor: SearchCursor | None, pairs: Sequence[tuple[bytes, float]]) -> SearchCursor:
    """Return the cursor just after ``pairs``, the entries read in order from ``cursor``."""
    last = pairs[-1][1]
    ties = 0
    for _raw, score in reversed(pairs):
        if score != last:
            break
        ties += 1
    if ties == len(pairs) and cursor is not None and cursor.score == last:
        # Every entry read shares the cursor's score, so the ties add up.
        ties += cursor.ties
    return SearchCursor(last, ties)


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


@dataclass(frozen=True)
class SearchCursor:
    """A point to resume a search from: after ``ties`` entries scored exactly ``score``, in iteration order.

    A score does not move when entries before it are added or removed, as a
    rank does, so a search resumed from a cursor skips no entry while
    workers change the set. The exception is a group of entries with one
    score that loses some members, which can hide its others. An entry whose
    score changes (a retry that failed again) can be seen twice. Its text
    form, ``"<score>,<ties>"``, fits in a URL.
    """

    score: float
    ties: int

    def __str__(self) -> str:
        return f"{self.score!r},{self.ties}"

    @classmethod
    def parse(cls, text: str) -> SearchCursor:
        """Read the text form; raise ValueError naming the problem."""
        problem = f"invalid search cursor {text[:60]!r}: expected <score>,<count>"
        score_text, separator, ties_text = text.partition(",")
        try:
            score = float(score_text)
            ties = int(ties_text)
        except ValueError:
            raise ValueError(problem) from None
        if not separator or not math.isfinite(score) or not 0 <= ties <= 1_000_000_000:
            raise ValueError(problem)
        return cls(score, ties)


@dataclass(frozen=True)
class SearchResult:
    """The result of :meth:`SortedSet.search`: the matches, and where the search stopped."""

    #: The matching entries, in iteration order.
    entries: list[SortedEntry]
    #: How many entries precede the starting point, in iteration order.
    start: int
    #: How many entries precede the stopping point, counted again when the search ends.
    searched_to: int
    #: The set's size when the search ended.
    size: int
    #: The cursor to search on from; None once the search reached the end of the set.
    next_cursor: SearchCursor | None


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
        # COUNT 1000 per call: scanning 100,000 entries then takes 100 round
        # trips instead of 1,000, which halves the time on loopback.
        for raw, score in self.connection.zscan_iter(self.key, match=pattern, count=1000):
            if raw not in seen:
                # ZSCAN may return an entry twice while the set is rehashed.
                seen.add(raw)
                yield SortedEntry(self, raw, score)

    @_translated
    def search(self, substring: str, after: SearchCursor | None = None, *, limit: int = 25,
               time_budget: float | None = None) -> SearchResult:
        """Return up to ``limit`` entries whose bytes contain ``substring``, in iteration order, from ``after``.

        Unlike :meth:`scan`, the matches come in display order (the dead set
        newest first), so the first page of matches is found without reading
        the whole set. Entries are read SEARCH_CHUNK at a time with ZRANGE
        BYSCORE and compared in this process, so Redis does no matching. The
        search stops at ``limit`` matches, at the end of the set, or at the
        first chunk boundary after ``time_budget`` seconds.
        :attr:`SearchResult.next_cursor` is where another call goes on.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit!r}")
        needle = substring.encode()
        deadline = None if time_budget is None else time.monotonic() + time_budget
        found: list[SortedEntry] = []
        cursor = after
        if cursor is not None:
            # Entries scored exactly as the cursor may have left the set since
            # (the poller moved them, an operator deleted them). Skipping as
            # many as the cursor counted would then pass over unseen entries.
            remaining = int(self.connection.zcount(self.key, repr(cursor.score), repr(cursor.score)))
            cursor = SearchCursor(cursor.score, min(cursor.ties, remaining))
        start = self._entries_before(cursor)
        while True:
            pairs = self._chunk_after(cursor)
            for offset, (raw, score) in enumerate(pairs):
                if needle in raw:
                    found.append(SortedEntry(self, raw, score))
                    if len(found) == limit:
                        return self._search_result(found, start, _advance(cursor, pairs[:offset + 1]))
            if len(pairs) < SEARCH_CHUNK:
                return self._search_result(found, start, None)
            cursor = _advance(cursor, pairs)
            if deadline is not None and time.monotonic() >= deadline:
                return self._search_result(found, start, cursor)

    def _chunk_after(self, cursor: SearchCursor | None) -> list[tuple[bytes, float]]:
        """Read the next SEARCH_CHUNK entries after ``cursor`` in iteration order."""
        if self.newest_first:
            high = "+inf" if cursor is None else repr(cursor.score)
            return list(self.connection.zrange(self.key, high, "-inf", desc=True, byscore=True, withscores=True,
                                               offset=0 if cursor is None else cursor.ties, num=SEARCH_CHUNK))
        low = "-inf" if cursor is None else repr(cursor.score)
        return list(self.connection.zrange(self.key, low, "+inf", byscore=True, withscores=True,
                                           offset=0 if cursor is None else cursor.ties, num=SEARCH_CHUNK))

    def _entries_before(self, cursor: SearchCursor | None) -> int:
        if cursor is None:
            return 0
        if self.newest_first:
            return int(self.connection.zcount(self.key, f"({cursor.score!r}", "+inf")) + cursor.ties
        return int(self.connection.zcount(self.key, "-inf", f"({cursor.score!r}")) + cursor.ties

    def _search_result(self, found: list[SortedEntry], start: int, cursor: SearchCursor | None) -> SearchResult:
        size = int(self.connection.zcard(self.key))
        if cursor is None:
            return SearchResult(found, start, size, size, None)
        searched_to = min(self._entries_before(cursor), size)
        # A page that filled up on the set's last entry has nothing left to search.
        return SearchResult(found, start, searched_to, size, cursor if searched_to < size else None)

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

