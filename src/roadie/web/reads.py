"""Pages of rows: one page of a queue or sorted set, read with one LRANGE or ZRANGE and the size.

Every page reads only the rows it shows, except a ``substr`` filter, which
reads the set in display order until a page of matches is found or
SEARCH_TIME_BUDGET has passed, and then offers to search on from there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from roadie.api import JobRecord, Queue, SearchCursor, SearchResult, SortedEntry, SortedSet

__all__ = ["SEARCH_TIME_BUDGET", "Page", "queue_page", "set_page", "set_search", "slice_page"]

# Seconds a filtered list page may spend reading the set before it shows the
# matches found. Reading 1,000 entries of 600 bytes takes about 2 ms on loopback.
SEARCH_TIME_BUDGET = 0.1

Row = TypeVar("Row")


@dataclass(frozen=True)
class Page(Generic[Row]):
    """One page of rows, with the total and the paging parameters it was read with."""

    rows: list[Row]
    total: int
    page: int
    count: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.count))

    @property
    def first_row(self) -> int:
        """1-based position of the first row, 0 for an empty page."""
        return (self.page - 1) * self.count + 1 if self.rows else 0

    @property
    def last_row(self) -> int:
        return (self.page - 1) * self.count + len(self.rows)


def queue_page(queue: Queue, page: int, count: int, *, oldest_first: bool = False) -> Page[JobRecord]:
    """Read page ``page`` of ``queue``: newest job first, or oldest first."""
    offset = (page - 1) * count
    if not oldest_first:
        total, rows = queue.page(offset, count)
        return Page(rows, total, page, count)
    # The oldest job is at index -1, because producers LPUSH.
    total, rows = queue.page(-(offset + count), count)
    # Redis reads a start before the head from index 0, so the last page is simply shorter.
    return Page(list(reversed(rows)), total, page, count)


def set_page(sorted_set: SortedSet, page: int, count: int) -> Page[SortedEntry]:
    """Read page ``page`` of a sorted set in its display order (the dead set newest first)."""
    total, rows = sorted_set.page((page - 1) * count, count)
    return Page(rows, total, page, count)


def set_search(sorted_set: SortedSet, substring: str, after: SearchCursor | None, count: int) -> SearchResult:
    """Return up to ``count`` entries containing ``substring``, searched in display order from ``after``."""
    return sorted_set.search(substring, after, limit=count, time_budget=SEARCH_TIME_BUDGET)


def slice_page(rows: Sequence[Row], page: int, count: int) -> Page[Row]:
    start = (page - 1) * count
    return Page(list(rows[start:start + count]), len(rows), page, count)
