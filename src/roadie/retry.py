"""Retry policy: when a failed job runs again, and when it has run out of retries.

These are Sidekiq 7's rules, so a job retried by roadie or by Sidekiq follows
the same schedule. The n-th retry (``retry_count`` n, 0 after the first
failure) waits ``n**4 + 15`` seconds plus a random jitter below
``10 * (n + 1)``. 25 retries span about 20 days.
"""

from __future__ import annotations

import random
from typing import Any

from roadie._time import epoch_from_timestamp

__all__ = ["backoff_seconds", "jitter_seconds", "max_retries_for", "retries_exhausted"]


def backoff_seconds(count: int) -> float:
    """Return the base delay before retry number ``count``, without jitter."""
    return float(count**4 + 15)


def jitter_seconds(count: int, rng: random.Random | None = None) -> float:
    """Return the random spread added to every delay, so failed jobs do not retry in lockstep."""
    return (rng or random).random() * 10 * (count + 1)


def max_retries_for(retry: Any, default_max: int) -> int | None:
    """Return how many retries a job's ``retry`` value allows, or None for no retry and no dead entry.

    ``True`` means ``default_max``; an integer means that many, and 0 means
    no retry but a dead-set entry (0 is not false here, as in Ruby). A string
    of digits is read as a count, since Ruby clients sometimes send one.
    """
    if retry is True:
        return default_max
    if retry is False or retry is None:
        return None
    if isinstance(retry, int):
        return max(retry, 0)
    if isinstance(retry, str) and retry.isdigit():
        return int(retry)
    return default_max


def retries_exhausted(job: dict[str, Any], count: int, max_retries: int, now: float) -> bool:
    """Return True when the failure numbered ``count`` (0-based) used up the job's retries.

    With ``retry_for`` (seconds) set, the job retries until ``failed_at +
    retry_for`` has passed, whatever the count, as Sidekiq 8.1 does. A job
    whose ``failed_at`` cannot be read falls back to the count, so it cannot
    retry forever.
    """
    retry_for = job.get("retry_for")
    if isinstance(retry_for, (int, float)) and not isinstance(retry_for, bool):
        failed_at = epoch_from_timestamp(job.get("failed_at"))
        if failed_at is not None:
            return now > failed_at + retry_for
    return count >= max_retries
