"""Acknowledge finished jobs: remove them from the in-progress lists, in pipelined batches.

Processors hand each finished job to one acker thread instead of writing to
Redis themselves. The thread drains everything waiting into one pipeline, so
under load one round trip acknowledges many jobs. Until its batch is written a
job stays in the in-progress list, where crash recovery would find it: a job
can run twice after a crash, but it is never lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from roadie import middleware
from roadie import payload
from roadie.config import Settings
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS, OutageLog, backoff_delays
from roadie.worker.retrier import Outcome
from roadie.worker.unit import WorkUnit

__all__ = ["Acker"]

logger = logging.getLogger(__name__)

# Upper bound on one pipeline, so a backlog is written in pieces of bounded size.
_MAX_BATCH = 1000


class Acker:
    """Thread ``roadie.acker``. Lifecycle: :meth:`start`, :meth:`stop` (after the last job is handed over)."""

    def __init__(self, settings: Settings, keys: Keys, connection: Any, scripts: dict[str, Any], identity: str):
        self._settings = settings
        self._keys = keys
        self._connection = connection
        self._finish = scripts["finish"]
        self._ack = scripts["ack"]
        self._identity = identity
        self._pending: queue.SimpleQueue[tuple[WorkUnit, Outcome | None] | None] = queue.SimpleQueue()
        self._unwritten = 0
        # Payloads queued or being written, which reconciliation must not push back.
        self._pending_raws: set[bytes] = set()
        self._idle = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="roadie.acker", daemon=True)
        self._outage = OutageLog(logger, "acknowledging jobs", settings.resolved_redis_url)

    def start(self) -> None:
        self._thread.start()

    def ack(self, unit: WorkUnit, outcome: Outcome | None) -> None:
        """Queue a finished job: ``outcome`` None for success, else where the failed job goes."""
        with self._idle:
            self._unwritten += 1
            self._pending_raws.add(unit.raw)
        self._pending.put((unit, outcome))

    def pending_raws(self) -> set[bytes]:
        """Return the payloads whose acknowledgement is not yet in Redis."""
        with self._idle:
            return set(self._pending_raws)

    def wait_until_written(self, timeout: float) -> bool:
        """Block until every queued acknowledgement is in Redis; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._unwritten:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        self._stopping = True
        self._pending.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._pending.get()
            batch = [first] if first is not None else []
            while len(batch) < _MAX_BATCH:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    batch.append(item)
                else:
                    first = None
            if batch:
                self._write(batch)
            if first is None and self._stopping and self._pending.empty():
                return

    def _write(self, batch: list[tuple[WorkUnit, Outcome | None]]) -> None:
        delays = backoff_delays()
        while True:
            try:
                self._write_once(batch)
                self._outage.succeeded()
                break
            except CONNECTION_ERRORS as exc:
                self._outage.failed(exc)
                time.sleep(next(delays))
            except Exception as exc:
                # A bug here must not stop acknowledgements for good; the jobs
                # stay in progress and return to their queues on recovery.
                logger.exception("failed to acknowledge %d jobs; they stay in progress", len(batch))
                middleware.call_error_handlers(exc, {"context": "acknowledging jobs"})
                break
        with self._idle:
            self._unwritten -= len(batch)
            for unit, _outcome in batch:
                self._pending_raws.discard(unit.raw)
            if not self._unwritten:
                self._idle.notify_all()

    def _write_once(self, batch: list[tuple[WorkUnit, Outcome | None]]) -> None:
        lists: dict[str, int] = {}
        acks: list[Any] = []
        failures: list[tuple[WorkUnit, Outcome]] = []
        for unit, outcome in batch:
            if outcome is None or outcome.kind == "drop":
                index = lists.setdefault(self._keys.inprogress(self._identity, unit.queue), len(lists) + 1)
                acks += [index, unit.raw]
            else:
                failures.append((unit, outcome))
        if failures:
            self._write_failures(failures)
        if acks:
            # A direct call, not a pipeline: redis-py checks SCRIPT EXISTS
            # before every pipeline that runs a script, one more round trip.
            self._ack(keys=list(lists), args=acks, client=self._connection)

    def _write_failures(self, failures: list[tuple[WorkUnit, Outcome]]) -> None:
        with self._connection.pipeline(transaction=False) as pipe:
            for unit, outcome in failures:
                inprogress = self._keys.inprogress(self._identity, unit.queue)
                if outcome.kind == "retry":
                    self._finish(
                        keys=[inprogress, self._keys.retry],
                        args=[unit.raw, payload.dumps(outcome.job), repr(outcome.score), "", 0],
                        client=pipe,
                    )
                else:
                    cutoff = outcome.score - self._settings.dead_timeout
                    self._finish(
                        keys=[inprogress, self._keys.dead],
                        args=[unit.raw, payload.dumps(outcome.job), repr(outcome.score), repr(cutoff),
                              self._settings.dead_max_jobs],
                        client=pipe,
                    )
            pipe.execute()
