"""The manager: hands fetched jobs to threads or the event loop, and shuts them down.

Shutdown has three phases. Quiet: stop fetching and push back jobs that were
fetched but not started. Drain: wait up to the timeout for running jobs.
Requeue: push back the jobs still running, then interrupt them. A job that
ends after its requeue writes no outcome (see WorkUnit), so each unfinished
job is in its queue exactly once.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from roadie.config import Settings
from roadie.errors import Shutdown
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS
from roadie.worker.acker import Acker
from roadie.worker.fetcher import Capacity, Fetcher
from roadie.worker.metrics import Metrics
from roadie.worker.processor import AsyncProcessors, JobRunner, ThreadProcessors
from roadie.worker.retrier import Retrier
from roadie.worker.stats import Counters
from roadie.worker.unit import UnitState, WorkUnit

__all__ = ["Manager"]

logger = logging.getLogger(__name__)

# Seconds interrupted jobs get to unwind (finally blocks, rollbacks) after
# they were pushed back at the end of the shutdown timeout. A job blocked in C
# code (a sleep, a socket read) gets the interruption only when it returns to
# Python. The job is already back in its queue, so the wait is kept short.
_INTERRUPT_GRACE = 2.0

# Minimum seconds a fetched job waits for a slot before reconcile() pushes it back.
_STALE_PENDING_MINIMUM = 1.0


class Manager:
    """Runs jobs. Lifecycle: :meth:`start`, :meth:`quiet`, :meth:`stop` (with a deadline)."""

    def __init__(
        self,
        settings: Settings,
        keys: Keys,
        connection: Any,
        connect: Callable[[], Any],
        scripts: dict[str, Any],
        identity: str,
        lookup: Callable[[str], Any],
        *,
        has_sync_jobs: bool = True,
        has_async_jobs: bool = False,
        burst: bool = False,
        on_empty: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._connection = connection
        self._requeue_script = scripts["requeue"]
        self._identity = identity
        self.counters = Counters()
        self.metrics = Metrics()
        self._units: set[WorkUnit] = set()
        self._units_lock = threading.Lock()
        self._quiet = threading.Event()
        self._hurry = threading.Event()
        self._unknown_last_time: set[tuple[str, bytes]] = set()

        # Sync slots are needed for unknown or undecodable jobs too, so there
        # is always at least one thread.
        threads = settings.concurrency if has_sync_jobs or not has_async_jobs else 1
        async_slots = settings.resolved_async_concurrency if has_async_jobs else 0
        # NOTE: with both kinds registered, a batch may hold more sync jobs
        # than free threads. The extra ones wait in this process, still in its
        # in-progress list, until a thread is free. Fetching ahead is off
        # then, because one estimate of slot time cannot fit both pools.
        prefetch_wait = 0.0 if has_sync_jobs and has_async_jobs else settings.prefetch_wait
        self.capacity = Capacity(threads + async_slots, prefetch_wait)
        # Jobs fetched ahead that waited longer than this go back to their
        # queue at the next heartbeat, for any process to take.
        self._stale_after = max(_STALE_PENDING_MINIMUM, 100 * settings.prefetch_wait)
        self.concurrency = threads + async_slots
        self.thread_count = threads
        self.async_slots = async_slots

        # The acker and the fetcher each get their own connection pool: on a
        # shared one, their threads contend for the pool's lock on every call.
        self._own_connections = [connect(), connect()]
        self.acker = Acker(settings, keys, self._own_connections[0], scripts, identity)
        self.runner = JobRunner(lookup, Retrier(settings), self.acker, self.counters, self._done, self.metrics)
        self.threads = ThreadProcessors(self.runner, threads)
        self.loop = AsyncProcessors(self.runner, async_slots) if has_async_jobs else None
        self.fetcher = Fetcher(settings, keys, self._own_connections[1], connect, scripts, identity, self.capacity,
                               self._dispatch, burst=burst, on_empty=on_empty)

    @property
    def quieted(self) -> bool:
        return self._quiet.is_set()

    def start(self) -> None:
        self.acker.start()
        self.threads.start()
        if self.loop is not None:
            self.loop.start()
        self.fetcher.start()

    def busy(self) -> list[WorkUnit]:
        """Return the units running now, for the heartbeat's busy map."""
        with self._units_lock:
            return [unit for unit in self._units if unit.state is UnitState.RUNNING]

    def in_flight(self) -> int:
        return self.capacity.in_flight

    def quiet(self) -> None:
        """Stop fetching and push back fetched jobs that have not started."""
        if self._quiet.is_set():
            return
        self._quiet.set()
        self.fetcher.quiet()
        with self._units_lock:
            pending = [unit for unit in self._units if unit.state is UnitState.PENDING]
        self._requeue(pending, pending_only=True)

    def stop(self, deadline: float) -> bool:
        """Quiet, wait for running jobs until ``deadline`` (monotonic), then requeue the rest.

        Returns True when every job finished or went back to its queue, and
        every acknowledgement reached Redis.
        """
        self.quiet()
        self.fetcher.join(timeout=max(0.0, deadline - time.monotonic()) + 2.5)
        # A waiter may have delivered a job after quiet began.
        with self._units_lock:
            late = [unit for unit in self._units if unit.state is UnitState.PENDING]
        self._requeue(late, pending_only=True)

        if not self._wait_for_running(deadline):
            with self._units_lock:
                running = list(self._units)
            claimed = [unit for unit in running if unit.claim_for_requeue()]
            if claimed:
                logger.warning("shutdown timeout reached; pushing %d running jobs back to their queues",
                               len(claimed))
            self._requeue(claimed, already_claimed=True)
            for unit in claimed:
                self._interrupt(unit)
            self.capacity.wait_until_empty(_INTERRUPT_GRACE)

        self.threads.stop()
        self.threads.join(1.0)
        if self.loop is not None:
            self.loop.stop(1.0)
        written = self.acker.wait_until_written(5.0)
        self.acker.stop()
        for own in self._own_connections:
            own.close()
        return written and self.capacity.in_flight == 0

    def reconcile(self) -> int:
        """Push back jobs this process should not keep: lost fetches, and jobs fetched ahead too long ago.

        A fetch whose reply was lost (Redis restarted, the connection dropped)
        moved jobs into the in-progress list that this process never
        received. Crash recovery skips live processes, so they would stay
        there. A job counts as lost only when it is unknown on two calls in a
        row, because one fetched a moment ago may not be known yet.

        Jobs fetched ahead that have waited for a slot longer than the stale
        limit go back too. That happens when the jobs turned long just after
        short ones, and it lets an idle process take them. Their wait also
        lowers the fetch-ahead limit at once, so this process does not fetch
        them straight back. Called by the heartbeat; returns the number of
        lost jobs pushed back.
        """
        self._push_back_stale()
        listed: set[tuple[str, bytes]] = set()
        for spec in self._settings.queues:
            key = self._keys.inprogress(self._identity, spec.name)
            listed.update((spec.name, raw) for raw in self._connection.lrange(key, 0, -1))
        with self._units_lock:
            known = {unit.raw for unit in self._units}
        known |= self.acker.pending_raws()
        unknown = {(queue, raw) for queue, raw in listed if raw not in known}
        lost = unknown & self._unknown_last_time
        self._unknown_last_time = unknown - lost
        moved = 0
        by_queue: dict[str, list[bytes]] = {}
        for queue, raw in lost:
            by_queue.setdefault(queue, []).append(raw)
        for queue, raws in by_queue.items():
            moved += int(self._requeue_script(
                keys=[self._keys.inprogress(self._identity, queue), self._keys.queue(queue), self._keys.queues],
                args=[queue, *raws],
                client=self._connection,
            ))
        if moved:
            logger.warning("pushed back %d jobs whose fetch reply was lost", moved)
        return moved

    def _push_back_stale(self) -> None:
        if not self.capacity.fetches_ahead or self._quiet.is_set():
            return
        now_monotonic = time.monotonic()
        with self._units_lock:
            stale = [unit for unit in self._units
                     if unit.state is UnitState.PENDING and now_monotonic - unit.fetched > self._stale_after]
        if stale:
            self.capacity.note_wait(max(now_monotonic - unit.fetched for unit in stale))
            self._requeue(stale, pending_only=True)

    def hurry(self) -> None:
        """End the wait for running jobs now; they are pushed back at once (a second TERM)."""
        self._hurry.set()

    # ----------------------------------------------------------------- inner

    def _wait_for_running(self, deadline: float) -> bool:
        while not self._hurry.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if self.capacity.wait_until_empty(min(remaining, 0.2)):
                return True
        return self.capacity.in_flight == 0

    def _dispatch(self, units: list[WorkUnit]) -> None:
        with self._units_lock:
            self._units.update(units)
        if self._quiet.is_set():
            self._requeue(units, pending_only=True)
            return
        for unit in units:
            self.runner.prepare(unit)
            if self.loop is not None and unit.function is not None and unit.function.is_async:
                self.loop.submit(unit)
            else:
                self.threads.submit(unit)

    def _done(self, unit: WorkUnit) -> None:
        with self._units_lock:
            if unit not in self._units:
                return
            self._units.discard(unit)
        self.capacity.release(time.monotonic() - unit.run_started if unit.started else None)

    def _requeue(
        self, units: Iterable[WorkUnit], *, already_claimed: bool = False, pending_only: bool = False
    ) -> None:
        """Push ``units`` back to their queues; ``pending_only`` leaves those a thread has started."""
        by_queue: dict[str, list[WorkUnit]] = {}
        # The requeue script pushes to the consuming end one by one, so the
        # last fetched goes first and the first fetched runs first again.
        for unit in sorted(units, key=lambda unit: unit.sequence, reverse=True):
            if already_claimed:
                claimed = True
            elif pending_only:
                claimed = unit.claim_pending()
            else:
                claimed = unit.claim_for_requeue()
            if claimed:
                by_queue.setdefault(unit.queue, []).append(unit)
        for queue, group in by_queue.items():
            try:
                moved = self._requeue_script(
                    keys=[self._keys.inprogress(self._identity, queue), self._keys.queue(queue),
                          self._keys.queues],
                    args=[queue, *(unit.raw for unit in group)],
                    client=self._connection,
                )
                logger.info("pushed %d jobs back to queue %r", moved, queue)
            except CONNECTION_ERRORS as exc:
                # They stay in the in-progress list; crash recovery returns them.
                logger.error("could not push %d jobs back to queue %r (%s); crash recovery will", len(group),
                             queue, exc)
            for unit in group:
                if not unit.started:
                    # Never started: nothing else will release its slot.
                    self._done(unit)

    def _interrupt(self, unit: WorkUnit) -> None:
        """Raise Shutdown in the thread running ``unit``, or cancel its task."""
        if unit.task is not None and self.loop is not None:
            self.loop.cancel(unit)
            return
        if unit.thread_id is not None:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(unit.thread_id), ctypes.py_object(Shutdown))
