"""Clocks and the timestamp formats found in Sidekiq job hashes."""

from __future__ import annotations

import datetime as dt
import time

__all__ = ["epoch_from_timestamp", "monotonic", "now", "to_epoch"]

# Sidekiq 8 writes timestamps as integer epoch milliseconds, older versions as
# float epoch seconds. An integer above this bound cannot be seconds (it would
# be past the year 33658), so it is read as milliseconds.
_MILLISECONDS_THRESHOLD = 1_000_000_000_000


def now() -> float:
    """Return the wall-clock time as float epoch seconds, the format every Sidekiq reads."""
    return time.time()


def monotonic() -> float:
    """Return a clock for measuring intervals, immune to wall-clock changes."""
    return time.monotonic()


def epoch_from_timestamp(value: object) -> float | None:
    """Read a job-hash timestamp: float seconds (Sidekiq 7 and older, roadie) or int ms (Sidekiq 8).

    Returns None for a value that is neither, so a malformed field never stops a job.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return value / 1000.0 if value >= _MILLISECONDS_THRESHOLD else float(value)
    return None


def to_epoch(when: dt.datetime | float | int) -> float:
    """Convert a datetime (naive means local time) or epoch seconds to float epoch seconds."""
    if isinstance(when, dt.datetime):
        return when.timestamp()
    if isinstance(when, bool) or not isinstance(when, (int, float)):
        raise TypeError(f"expected a datetime or epoch seconds, got {type(when).__name__}: {when!r}")
    return float(when)
