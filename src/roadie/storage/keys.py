"""Every Redis key roadie reads or writes.

Keys are bare by default, as Sidekiq 7 and 8 write them. A namespace prefixes
every key with ``<namespace>:``, as Sidekiq 6 did through redis-namespace.
roadie's own keys, which Sidekiq never reads, start with ``roadie:`` after any
namespace.
"""

from __future__ import annotations

import datetime as dt

__all__ = ["HISTOGRAM_BOUNDS_MS", "Keys"]

# Exclusive upper bounds, in milliseconds, of the run-time histogram buckets
# stored under ``h|...`` keys, as Sidekiq 7 and 8 define them: a 100 ms run
# counts in the 100 to 150 ms bucket, and a 26th bucket counts slower runs.
HISTOGRAM_BOUNDS_MS = (
    20, 30, 45, 65, 100, 150, 225, 335, 500, 750, 1100, 1700, 2500, 3800, 5750, 8500, 13000, 20000, 30000,
    45000, 65000, 100000, 150000, 225000, 335000,
)


class Keys:
    """Key names for one namespace (``""`` for none)."""

    __slots__ = (
        "prefix",
        "queues",
        "schedule",
        "retry",
        "dead",
        "processes",
        "stat_processed",
        "stat_failed",
        "fetchers",
        "recovery_lock",
        "paused",
    )

    def __init__(self, namespace: str = "") -> None:
        if namespace and namespace.endswith(":"):
            namespace = namespace[:-1]
        self.prefix = f"{namespace}:" if namespace else ""
        p = self.prefix
        self.queues = f"{p}queues"
        self.schedule = f"{p}schedule"
        self.retry = f"{p}retry"
        self.dead = f"{p}dead"
        self.processes = f"{p}processes"
        self.stat_processed = f"{p}stat:processed"
        self.stat_failed = f"{p}stat:failed"
        # Sidekiq Pro keeps paused queue names in this set; open-source Sidekiq reads it.
        self.paused = f"{p}paused"
        # roadie's own: identities that may hold in-progress jobs, and the lock
        # that lets one process at a time return a dead process's jobs.
        self.fetchers = f"{p}roadie:fetchers"
        self.recovery_lock = f"{p}roadie:recovery-lock"

    def queue(self, name: str) -> str:
        """Return the list key of queue ``name``."""
        return f"{self.prefix}queue:{name}"

    def process(self, identity: str) -> str:
        """Return the hash key of a process record."""
        return f"{self.prefix}{identity}"

    def work(self, identity: str) -> str:
        """Return the hash key of a process's busy map (Sidekiq 6.5 and later name)."""
        return f"{self.prefix}{identity}:work"

    def signals(self, identity: str) -> str:
        """Return the list key that carries remote TSTP/TERM to a process."""
        return f"{self.prefix}{identity}-signals"

    def stat_processed_day(self, day: dt.date) -> str:
        """Return the daily processed counter key for a UTC date."""
        return f"{self.stat_processed}:{day.isoformat()}"

    def stat_failed_day(self, day: dt.date) -> str:
        """Return the daily failed counter key for a UTC date."""
        return f"{self.stat_failed}:{day.isoformat()}"

    def metrics_key(self, window: str) -> str:
        """Return the hash of per-job counters for a time window, as Sidekiq 8 names it (``j|<window>``)."""
        return f"{self.prefix}j|{window}"

    def histogram_key(self, job_name: str, window: str) -> str:
        """Return the run-time histogram of one job for one minute (``h|<job>-<window>``)."""
        return f"{self.prefix}h|{job_name}-{window}"

    def inprogress_queues(self, identity: str) -> str:
        """Return the set of queue names for which a process has an in-progress list."""
        return f"{self.prefix}roadie:inprogress:{identity}"

    def inprogress(self, identity: str, queue: str) -> str:
        """Return the list of a process's fetched, unfinished jobs of one queue."""
        return f"{self.prefix}roadie:inprogress:{identity}:{queue}"

    def __repr__(self) -> str:
        return f"Keys(prefix={self.prefix!r})"
