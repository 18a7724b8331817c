"""A fetched job on its way through the worker, and the rule that keeps one copy of it."""

from __future__ import annotations

import enum
import itertools
import threading
import time
from typing import Any

# Fetch order across every unit of the process, so jobs pushed back at
# shutdown can keep their order.
_sequence = itertools.count()


class UnitState(enum.Enum):
    PENDING = "pending"  # fetched, waiting for a thread or task
    RUNNING = "running"
    FINISHING = "finishing"  # ran; its outcome is being written to Redis
    REQUEUED = "requeued"  # pushed back to its queue at shutdown


class WorkUnit:
    """One fetched job: the payload exactly as read, its queue, and its state.

    Shutdown may push a job back to its queue while a thread still runs it.
    Both sides change the state under ``lock``: a unit that was requeued is
    never acknowledged or retried, and a unit whose outcome is being written
    is never requeued, so exactly one copy of the job remains in Redis.
    """

    __slots__ = ("raw", "queue", "job", "arguments", "function", "error", "state", "lock", "thread_id", "started_at",
                 "task", "sequence", "fetched", "started", "run_started")

    def __init__(self, raw: bytes, queue: str) -> None:
        self.raw = raw
        self.queue = queue
        self.sequence = next(_sequence)
        # time.monotonic() at fetch, and at start, for waits and slot times.
        self.fetched = time.monotonic()
        self.run_started = 0.0
        # True once a thread or task took the unit, even if shutdown requeued it afterwards.
        self.started = False
        self.job: dict[str, Any] | None = None
        # Positional and keyword arguments for the job function, set when it is resolved.
        self.arguments: tuple[list[Any], dict[str, Any]] | None = None
        # The registered job function, None until resolved or when no job has the name.
        self.function: Any = None
        self.error: Exception | None = None
        self.state = UnitState.PENDING
        self.lock = threading.Lock()
        self.thread_id: int | None = None
        self.started_at: float = 0.0
        self.task: Any = None

    @property
    def name(self) -> str:
        if self.job is None:
            return "?"
        return str(self.job.get("wrapped") or self.job.get("class") or "?")

    @property
    def jid(self) -> str:
        if self.job is None:
            return "?"
        return str(self.job.get("jid", "?"))

    def start(self) -> bool:
        """Move PENDING to RUNNING; False when shutdown already requeued the unit."""
        with self.lock:
            if self.state is not UnitState.PENDING:
                return False
            self.state = UnitState.RUNNING
            self.started = True
            self.run_started = time.monotonic()
            return True

    def finish(self) -> bool:
        """Move RUNNING to FINISHING; False when shutdown requeued the unit meanwhile."""
        with self.lock:
            if self.state is UnitState.REQUEUED:
                return False
            self.state = UnitState.FINISHING
            return True

    def claim_for_requeue(self) -> bool:
        """Move PENDING or RUNNING to REQUEUED; False when the outcome is already being written."""
        with self.lock:
            if self.state in (UnitState.PENDING, UnitState.RUNNING):
                self.state = UnitState.REQUEUED
                return True
            return False

    def claim_pending(self) -> bool:
        """Move PENDING to REQUEUED; False when a thread or task has started the unit."""
        with self.lock:
            if self.state is UnitState.PENDING:
                self.state = UnitState.REQUEUED
                return True
            return False

    def __repr__(self) -> str:
        return f"<WorkUnit {self.name} jid={self.jid} queue={self.queue} {self.state.value}>"
