"""Processed and failed counters, kept in memory and flushed with each heartbeat."""

from __future__ import annotations

import threading


class Counters:
    """Thread-safe job counters. :meth:`take` hands the counts over and resets them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.processed = 0
        self.failed = 0

    def record(self, failed: bool) -> None:
        # Sidekiq counts a failed execution as processed too.
        with self._lock:
            self.processed += 1
            if failed:
                self.failed += 1

    def take(self) -> tuple[int, int]:
        with self._lock:
            counts = (self.processed, self.failed)
            self.processed = 0
            self.failed = 0
        return counts

    def give_back(self, processed: int, failed: int) -> None:
        """Return counts whose flush failed, so the next heartbeat writes them."""
        with self._lock:
            self.processed += processed
            self.failed += failed
