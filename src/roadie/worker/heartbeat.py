"""The heartbeat: publish this process in Sidekiq's format, flush stats, obey remote signals.

Every beat writes its keys in one MULTI, so a crash never leaves a key
without a TTL. They are the ``processes`` set, the ``<identity>`` hash (info,
busy, beat, quiet, rss, rtt_us, concurrency), the ``<identity>:work`` busy
map (and ``:workers``, the key Sidekiq 6.4 reads), and roadie's own
registration of the lists that crash recovery must check. The same MULTI
pops one remote signal (``TSTP``/``TERM``).

Every few beats it also runs crash recovery: the in-progress jobs of a
process whose heartbeat stopped go back to their queues.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import resource
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

from roadie import middleware
from roadie._time import now
from roadie._version import __version__
from roadie.config import Settings
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS, OutageLog
from roadie.worker.metrics import Metrics
from roadie.worker.stats import Counters
from roadie.worker.unit import WorkUnit

__all__ = ["Heartbeat", "Recovery", "make_identity", "thread_tid"]

logger = logging.getLogger(__name__)

# Process records and busy maps expire this many seconds after the last beat.
RECORD_TTL = 60
# Daily stat keys live five years, as Sidekiq keeps them.
STATS_TTL = 5 * 365 * 24 * 3600
# Sidekiq's lock that lets one process a minute prune the `processes` set.
_CLEANUP_LOCK_SECONDS = 60


def hostname() -> str:
    """Return the host name used in identities: $DYNO (as on Heroku) or the socket host name."""
    return os.environ.get("DYNO") or socket.gethostname()


def make_identity() -> str:
    """Return a new process identity, ``hostname:pid:<12 hex>`` as Sidekiq makes them."""
    return f"{hostname()}:{os.getpid()}:{os.urandom(6).hex()}"


def thread_tid(ident: int) -> str:
    """Return the short base-36 thread id that keys a busy-map entry."""
    value = ident ^ os.getpid()
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while value:
        value, remainder = divmod(value, 36)
        text = digits[remainder] + text
    return text or "0"


def _rss_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    # ru_maxrss is the peak, in KB on Linux and bytes on macOS; better than nothing.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if os.uname().sysname == "Darwin" else peak


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A killed process stays a zombie until its parent reaps it, and signal 0
    # still reaches a zombie. On Linux, the state field of /proc/<pid>/stat shows which.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


class Recovery:
    """Returns the in-progress jobs of processes that are gone to their queues.

    A process is gone when its last beat is older than ``recovery_timeout``
    (checked inside the Lua script, atomically with the move), or at once when
    it ran on this host and its PID is no longer running. A lock lets one
    process at a time do this.
    """

    def __init__(self, settings: Settings, keys: Keys, connection: Any, scripts: dict[str, Any], identity: str):
        self._settings = settings
        self._keys = keys
        self._connection = connection
        self._script = scripts["recover"]
        self._identity = identity
        self._host = hostname()

    def run(self, *, use_lock: bool = True) -> int:
        """Recover every gone process's jobs; return how many jobs went back to their queues.

        The lock is held for one heartbeat interval and not released, so a
        fleet runs one recovery pass per interval however many processes it
        has. It only limits load: the script is atomic, so two passes at once
        never move a job twice. A starting process skips it, so a replacement
        takes over its predecessor's jobs at once.
        """
        lock_seconds = max(1, math.ceil(self._settings.heartbeat_interval))
        if use_lock and not self._connection.set(self._keys.recovery_lock, self._identity, nx=True,
                                                 ex=lock_seconds):
            return 0
        total = 0
        for raw in self._connection.smembers(self._keys.fetchers):
            identity = raw.decode("utf-8", "replace")
            if identity != self._identity:
                total += self.recover(identity)
        return total

    @property
    def stale_after(self) -> float:
        """Seconds since a process's last beat after which it counts as gone.

        A kill lands up to one interval after the last beat, and the next
        recovery pass runs up to one interval later, so the threshold leaves
        two intervals of ``recovery_timeout`` for those.
        """
        interval = self._settings.heartbeat_interval
        return max(self._settings.recovery_timeout - 2 * interval, 2 * interval)

    def recover(self, identity: str) -> int:
        parts = identity.rsplit(":", 2)
        host = parts[0] if len(parts) == 3 else ""
        pid = int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None
        force = host == self._host and pid is not None and pid != os.getpid() and not _pid_running(pid)
        queues = sorted(name.decode() for name in self._connection.smembers(self._keys.inprogress_queues(identity)))
        keys = [self._keys.fetchers, self._keys.process(identity), self._keys.inprogress_queues(identity),
                self._keys.queues]
        for queue in queues:
            keys += [self._keys.inprogress(identity, queue), self._keys.queue(queue)]
        moved = int(self._script(
            keys=keys,
            args=[identity, repr(now()), self.stale_after, "1" if force else "0", *queues],
            client=self._connection,
        ))
        if moved > 0:
            logger.warning("returned %d in-progress %s of stopped process %s to their queues", moved,
                           "job" if moved == 1 else "jobs", identity)
        elif moved == 0:
            logger.info("process %s is gone and held no jobs", identity)
        if force and moved >= 0:
            self._forget_process(identity)
        return max(moved, 0)

    def _forget_process(self, identity: str) -> None:
        """Delete the record and busy map of a process whose PID is gone, so status pages stop listing it.

        Otherwise they stay until the record expires, up to 60 s after the
        last beat.
        """
        process_key = self._keys.process(identity)
        with self._connection.pipeline(transaction=False) as pipe:
            pipe.srem(self._keys.processes, identity)
            pipe.unlink(process_key, self._keys.work(identity), f"{process_key}:workers")
            pipe.execute()

    def prune_processes(self) -> None:
        """Remove identities whose record expired from the `processes` set.

        Sidekiq's ``process_cleanup`` lock (SET NX EX 60) limits this to once
        a minute across roadie and Sidekiq processes.
        """
        lock = f"{self._keys.prefix}process_cleanup"
        if not self._connection.set(lock, "1", nx=True, ex=_CLEANUP_LOCK_SECONDS):
            return
        identities = list(self._connection.sscan_iter(self._keys.processes))
        if not identities:
            return
        with self._connection.pipeline(transaction=False) as pipe:
            for identity in identities:
                pipe.hget(self._keys.process(identity.decode()), "info")
            infos = pipe.execute()
        gone = [identity for identity, info in zip(identities, infos) if info is None]
        if gone:
            self._connection.srem(self._keys.processes, *gone)


class Heartbeat:
    """Thread ``roadie.heartbeat``. Lifecycle: :meth:`beat` once, :meth:`start`, :meth:`stop`, :meth:`clear`."""

    def __init__(
        self,
        settings: Settings,
        keys: Keys,
        connection: Any,
        identity: str,
        counters: Counters,
        metrics: Metrics,
        busy: Callable[[], list[WorkUnit]],
        is_quiet: Callable[[], bool],
        on_signal: Callable[[str], None],
        recovery: Recovery,
        reconcile: Callable[[], int],
        *,
        concurrency: int,
        embedded: bool = False,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._connection = connection
        self.identity = identity
        self._counters = counters
        self._metrics = metrics
        self._busy = busy
        self._is_quiet = is_quiet
        self._on_signal = on_signal
        self._recovery = recovery
        self._reconcile = reconcile
        self._stopping = threading.Event()
        self._announced = False
        self._outage = OutageLog(logger, "heartbeat", settings.resolved_redis_url)
        self._thread = threading.Thread(target=self._run, name="roadie.heartbeat", daemon=True)
        self._concurrency = concurrency
        self.info = self._make_info(concurrency, embedded)

    def _make_info(self, concurrency: int, embedded: bool) -> bytes:
        settings = self._settings
        queues = [queue.name for queue in settings.queues]
        weights = {queue.name: queue.weight for queue in settings.queues}
        mode = "strict" if settings.strict_queues else "weighted"
        return orjson.dumps({
            "hostname": hostname(),
            "started_at": now(),
            "pid": os.getpid(),
            "tag": settings.tag if settings.tag is not None else os.path.basename(os.getcwd()),
            "concurrency": concurrency,
            "queues": queues,
            "weights": [weights],
            "capsules": {"default": {"concurrency": concurrency, "mode": mode, "weights": weights}},
            "labels": list(settings.labels),
            "identity": self.identity,
            "version": __version__,
            "embedded": embedded,
            "library": "roadie",
        })

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.wait(self._settings.heartbeat_interval):
            self.beat()

    def beat(self) -> None:
        """Flush stats, publish the process record and busy map, pop a signal, recover now and then."""
        try:
            self._flush_stats()
            self._metrics.flush(self._connection, self._keys)
            signal_name = self._write_record()
            self._reconcile()
            self._outage.succeeded()
        except CONNECTION_ERRORS as exc:
            self._outage.failed(exc)
            self._announced = False
            return
        except Exception as exc:
            logger.exception("heartbeat failed")
            middleware.call_error_handlers(exc, {"context": "heartbeat"})
            return
        if not self._announced:
            # First beat, or first beat after an outage.
            self._announced = True
            middleware.fire("heartbeat")
        middleware.fire("beat")
        if signal_name:
            logger.info("received %s through Redis", signal_name)
            self._on_signal(signal_name)
            if self._is_quiet():
                # Show the new state now rather than one beat later.
                try:
                    self._connection.hset(self._keys.process(self.identity), "quiet", "true")
                except CONNECTION_ERRORS as exc:
                    self._outage.failed(exc)
        self.recover()

    def recover(self, *, use_lock: bool = True) -> None:
        try:
            self._recovery.run(use_lock=use_lock)
            self._recovery.prune_processes()
        except CONNECTION_ERRORS as exc:
            self._outage.failed(exc)
        except Exception as exc:
            logger.exception("crash recovery failed")
            middleware.call_error_handlers(exc, {"context": "crash recovery"})

    def _flush_stats(self) -> None:
        processed, failed = self._counters.take()
        if not processed and not failed:
            return
        day = dt.datetime.now(dt.timezone.utc).date()
        try:
            with self._connection.pipeline(transaction=False) as pipe:
                for total_key, daily_key, count in (
                    (self._keys.stat_processed, self._keys.stat_processed_day(day), processed),
                    (self._keys.stat_failed, self._keys.stat_failed_day(day), failed),
                ):
                    if count:
                        pipe.incrby(total_key, count)
                        pipe.incrby(daily_key, count)
                        pipe.expire(daily_key, STATS_TTL)
                pipe.execute()
        except BaseException:
            self._counters.give_back(processed, failed)
            raise

    def _write_record(self) -> str | None:
        started = time.perf_counter()
        self._connection.ping()
        rtt_us = int((time.perf_counter() - started) * 1_000_000)

        busy = self._busy()
        work = {}
        for unit in busy:
            tid = thread_tid(unit.thread_id or id(unit)) if unit.task is None else thread_tid(id(unit))
            work[tid] = orjson.dumps({"queue": unit.queue, "payload": unit.raw.decode("utf-8", "replace"),
                                      "run_at": int(unit.started_at)})
        identity = self.identity
        process_key = self._keys.process(identity)
        with self._connection.pipeline(transaction=True) as pipe:
            for work_key in (self._keys.work(identity), f"{process_key}:workers"):
                pipe.unlink(work_key)
                if work:
                    pipe.hset(work_key, mapping=work)
                    pipe.expire(work_key, RECORD_TTL)
            pipe.sadd(self._keys.processes, identity)
            pipe.hset(process_key, mapping={
                "info": self.info,
                "busy": len(busy),
                "beat": repr(now()),
                "quiet": "true" if self._is_quiet() else "false",
                "rss": _rss_kb(),
                "rtt_us": rtt_us,
                "concurrency": self._concurrency,
            })
            pipe.expire(process_key, RECORD_TTL)
            pipe.rpop(self._keys.signals(identity))
            pipe.sadd(self._keys.fetchers, identity)
            pipe.sadd(self._keys.inprogress_queues(identity), *(queue.name for queue in self._settings.queues))
            replies = pipe.execute()
        signal_name = replies[-3]
        return signal_name.decode() if signal_name else None

    def clear(self) -> None:
        """Remove this process's record and busy map at shutdown; flush the last stats.

        When no job is left in this process's in-progress lists, also drop
        the registration that crash recovery would otherwise check.
        """
        try:
            self._flush_stats()
            self._metrics.flush(self._connection, self._keys)
            lists = [self._keys.inprogress(self.identity, queue.name) for queue in self._settings.queues]
            left = sum(self._connection.llen(key) for key in lists)
            if left:
                logger.warning("%d jobs are still in progress at exit; crash recovery returns them to their "
                               "queues within %.0f s", left, self._settings.recovery_timeout)
            with self._connection.pipeline(transaction=True) as pipe:
                if not left:
                    pipe.srem(self._keys.fetchers, self.identity)
                    pipe.unlink(self._keys.inprogress_queues(self.identity))
                pipe.srem(self._keys.processes, self.identity)
                pipe.unlink(self._keys.work(self.identity), f"{self._keys.process(self.identity)}:workers")
                pipe.execute()
        except CONNECTION_ERRORS as exc:
            logger.error("could not remove the process record at shutdown (%s); it expires in %d s", exc,
                         RECORD_TTL)
