"""Reliable fetch: move jobs from their queues into this process's in-progress lists.

Jobs are fetched in batches by the ``fetch`` Lua script, one call for as many
jobs as there are free slots, in strict queue order or in a weighted random
order per slot (as Sidekiq orders queues).

When every queue is empty, Redis offers no blocking command that moves a job
from one of several lists into another. So each queue gets a waiter thread
that blocks on ``BLMOVE`` for that queue alone, and the first job to arrive
on any queue wakes the worker within a round trip, whichever queue it is on.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from roadie import middleware
from roadie.config import QueueSpec, Settings
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS, OutageLog, backoff_delays
from roadie.worker.unit import WorkUnit

__all__ = ["Capacity", "Fetcher", "queue_orders"]

logger = logging.getLogger(__name__)

# Seconds a waiter blocks in BLMOVE before it checks whether to stop.
_BLOCK_SECONDS = 2.0


def queue_orders(queues: tuple[QueueSpec, ...], slots: int, rng: random.Random | None = None) -> list[list[int]]:
    """Return the orders in which each of ``slots`` fetch slots tries the queues (1-based indexes).

    Strict mode (no weights) returns one fixed order. Otherwise each slot gets
    its own shuffle of the queue list with every queue repeated ``weight``
    times, keeping each queue's first appearance, so a queue comes first in
    proportion to its weight.
    """
    if all(queue.weight == 0 for queue in queues):
        return [list(range(1, len(queues) + 1))]
    rng = rng or random.Random()
    expanded = [index + 1 for index, queue in enumerate(queues) for _ in range(max(queue.weight, 1))]
    orders = []
    for _ in range(max(slots, 1)):
        shuffled = expanded[:]
        rng.shuffle(shuffled)
        orders.append(list(dict.fromkeys(shuffled)))
    return orders


class Capacity:
    """Counts jobs in flight (running, or fetched and waiting) against how many this process may hold.

    The limit is the number of slots, plus jobs fetched ahead while jobs are
    short. From the moving average of how long a job occupies its slot, it
    allows as many extra jobs as keep the expected wait of one under
    ``prefetch_wait`` seconds, at most PREFETCH_PER_SLOT per slot. One round
    trip then fetches a larger batch. Once the average has caught up, jobs
    that take 50 ms or more on 10 slots get at most one extra job at the
    default of 5 ms. The manager pushes back jobs that waited too long when
    the jobs turned long before the average did.
    """

    #: Maximum of jobs fetched ahead per slot.
    PREFETCH_PER_SLOT = 10
    #: Weight of the latest job in the moving average of slot time.
    AVERAGE_WEIGHT = 0.05

    def __init__(self, slots: int, prefetch_wait: float = 0.0) -> None:
        self.slots = slots
        self.limit = slots
        self._prefetch_wait = prefetch_wait
        self._average: float | None = None
        self._in_flight = 0
        self._changed = threading.Condition()

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def ahead(self) -> int:
        """How many jobs beyond the slots may be fetched now."""
        return self.limit - self.slots

    @property
    def fetches_ahead(self) -> bool:
        """True when this capacity may take jobs beyond its slots."""
        return self._prefetch_wait > 0

    def note_wait(self, waited: float) -> None:
        """Count a fetched job's wait for a slot as a slot time, so the limit drops before the next fetch.

        Called when jobs fetched ahead waited too long: the running jobs take
        longer than the average shows, and the average would learn that only
        when they finish.
        """
        with self._changed:
            if self._prefetch_wait > 0:
                self._set_average(waited if self._average is None else max(self._average, waited))

    def wait_for_free(self, timeout: float) -> int:
        """Block until there is room or ``timeout`` passes; return how many jobs may be fetched."""
        with self._changed:
            if self._in_flight >= self.limit:
                self._changed.wait(timeout)
            return max(0, self.limit - self._in_flight)

    def take(self, count: int) -> None:
        with self._changed:
            self._in_flight += count

    def release(self, slot_time: float | None = None) -> None:
        """Free one job's place; ``slot_time`` is how long it occupied a slot, None when it never ran."""
        with self._changed:
            self._in_flight -= 1
            if slot_time is not None and self._prefetch_wait > 0:
                slot_time = max(slot_time, 0.0)
                average = self._average
                self._set_average(slot_time if average is None
                                  else average + self.AVERAGE_WEIGHT * (slot_time - average))
            self._changed.notify_all()

    def _set_average(self, average: float) -> None:
        """Store the slot-time average and the limit it allows; the caller holds the condition's lock."""
        self._average = average
        maximum = self.PREFETCH_PER_SLOT * self.slots
        # A job fetched ahead waits for one of the slots to finish: with n
        # extra jobs that is about n / slots job times.
        ahead = maximum if average <= 0 else min(maximum, int(self.slots * self._prefetch_wait / average))
        self.limit = self.slots + ahead

    def wait_until_empty(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
        return True


class Fetcher:
    """Thread ``roadie.fetcher`` plus one ``roadie.waiter-<queue>`` thread per queue.

    Lifecycle: :meth:`start`, :meth:`quiet` (stop taking work), :meth:`join`.
    In burst mode there are no waiters; ``on_empty`` is called each time
    nothing was fetched and decides whether the worker is done.
    """

    def __init__(
        self,
        settings: Settings,
        keys: Keys,
        connection: Any,
        connect: Callable[[], Any],
        scripts: dict[str, Any],
        identity: str,
        capacity: Capacity,
        dispatch: Callable[[list[WorkUnit]], None],
        *,
        burst: bool = False,
        on_empty: Callable[[], None] | None = None,
    ) -> None:
        self._settings = settings
        self._queues = settings.queues
        self._keys = keys
        self._connection = connection
        self._connect = connect
        self._fetch = scripts["fetch"]
        self._requeue_script = scripts["requeue"]
        self._identity = identity
        self._capacity = capacity
        self._dispatch = dispatch
        self._burst = burst
        self._on_empty = on_empty
        self._quiet = threading.Event()
        self._arrived = threading.Event()
        self._idle = threading.Event()
        self._paused: frozenset[str] = frozenset()
        self._waiter_client_ids: list[int] = []
        self._rng = random.Random()
        self._outage = OutageLog(logger, "fetching jobs", settings.resolved_redis_url)

        self._fetch_keys = [keys.paused]
        for queue in self._queues:
            self._fetch_keys += [keys.queue(queue.name), keys.inprogress(identity, queue.name)]
        self._queue_names = [queue.name for queue in self._queues]

        self._thread = threading.Thread(target=self._run, name="roadie.fetcher", daemon=True)
        self._waiters = [] if burst else [
            threading.Thread(target=self._wait_on, args=(queue.name,), name=f"roadie.waiter-{queue.name}",
                             daemon=True)
            for queue in self._queues
        ]

    @property
    def quieted(self) -> bool:
        return self._quiet.is_set()

    def start(self) -> None:
        self._thread.start()
        for waiter in self._waiters:
            waiter.start()

    def quiet(self) -> None:
        """Stop fetching, and wake the waiters blocked in BLMOVE so they end at once."""
        self._quiet.set()
        self._arrived.set()
        self._idle.set()
        for client_id in list(self._waiter_client_ids):
            try:
                self._connection.client_unblock(client_id)
            except CONNECTION_ERRORS:
                pass

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in (self._thread, *self._waiters):
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))

    def fetch_once(self, slots: int) -> list[WorkUnit]:
        """Run the fetch script for up to ``slots`` jobs and return them as units."""
        orders = queue_orders(self._queues, slots, self._rng)
        args: list[Any] = [slots, *self._queue_names, *(" ".join(map(str, order)) for order in orders)]
        reply = self._fetch(keys=self._fetch_keys, args=args, client=self._connection)
        return [
            WorkUnit(reply[position + 1], self._queue_names[int(reply[position]) - 1])
            for position in range(0, len(reply), 2)
        ]

    def _run(self) -> None:
        delays = backoff_delays()
        while not self._quiet.is_set():
            slots = self._capacity.wait_for_free(timeout=1.0)
            if slots == 0 or self._quiet.is_set():
                continue
            try:
                units = self.fetch_once(slots)
                self._outage.succeeded()
                delays = backoff_delays()
            except CONNECTION_ERRORS as exc:
                self._outage.failed(exc)
                time.sleep(next(delays))
                continue
            except Exception as exc:
                logger.exception("fetch failed; retrying in 1 s")
                middleware.call_error_handlers(exc, {"context": "fetching jobs"})
                time.sleep(1.0)
                continue
            if units:
                self._deliver(units)
            elif self._burst:
                if self._on_empty is not None:
                    self._on_empty()
                time.sleep(0.02)
            else:
                self._wait_for_arrival()

    def _deliver(self, units: list[WorkUnit]) -> None:
        self._capacity.take(len(units))
        self._dispatch(units)

    def _wait_for_arrival(self) -> None:
        self._refresh_paused()
        self._arrived.clear()
        self._idle.set()
        # A waiter sets _arrived when it moved a job. The timeout re-runs the
        # batch fetch now and then, in case a waiter is stuck on a dead connection.
        self._arrived.wait(_BLOCK_SECONDS)
        self._idle.clear()

    def _refresh_paused(self) -> None:
        try:
            self._paused = frozenset(name.decode() for name in self._connection.smembers(self._keys.paused))
        except CONNECTION_ERRORS:
            pass

    def _paused_now(self, connection: Any, queue: str) -> bool:
        try:
            paused = bool(connection.sismember(self._keys.paused, queue))
        except CONNECTION_ERRORS:
            return False
        if paused:
            self._paused = self._paused | {queue}
        return paused

    def _requeue(self, connection: Any, queue: str, inprogress: str, raw: bytes) -> None:
        try:
            self._requeue_script(keys=[inprogress, self._keys.queue(queue), self._keys.queues], args=[queue, raw],
                                 client=connection)
        except CONNECTION_ERRORS:
            # It stays in the in-progress list, where reconciliation finds it.
            logger.warning("could not push a job back to paused queue %r; reconciliation will", queue)

    def _wait_on(self, queue: str) -> None:
        connection = self._connect()
        try:
            self._waiter_client_ids.append(int(connection.client_id()))
        except CONNECTION_ERRORS:
            pass
        source = self._keys.queue(queue)
        target = self._keys.inprogress(self._identity, queue)
        outage = OutageLog(logger, f"waiting on queue {queue!r}", self._settings.resolved_redis_url)
        delays = backoff_delays()
        try:
            while not self._quiet.is_set():
                if not self._idle.wait(1.0) or self._quiet.is_set():
                    continue
                if queue in self._paused:
                    time.sleep(1.0)
                    continue
                try:
                    raw = connection.blmove(source, target, _BLOCK_SECONDS, "RIGHT", "LEFT")
                    outage.succeeded()
                    delays = backoff_delays()
                except CONNECTION_ERRORS as exc:
                    outage.failed(exc)
                    time.sleep(next(delays))
                    continue
                if raw is None:
                    continue
                if self._paused_now(connection, queue):
                    # The queue was paused while this waiter was blocked.
                    self._requeue(connection, queue, target, raw)
                    continue
                # The job is already in this process's in-progress list, so it
                # is delivered even past capacity or while quieting. The
                # manager pushes it back if the worker is stopping.
                self._idle.clear()
                self._deliver([WorkUnit(raw, queue)])
                self._arrived.set()
        finally:
            connection.close()
