"""The launcher: builds and starts a worker's parts, and stops them in order.

Lifecycle: :meth:`Launcher.start`, :meth:`Launcher.quiet` (stop taking work),
:meth:`Launcher.stop` (finish or push back running jobs, then leave), and
:meth:`Launcher.run`, which starts, handles signals and stops, for the CLI.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from roadie import jobs as job_module
from roadie import middleware
from roadie._version import __version__
from roadie.config import Settings, redact_url
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS, backoff_delays, connect, unavailable
from roadie.storage.scripts import scripts_for
from roadie.worker.heartbeat import Heartbeat, Recovery, make_identity
from roadie.worker.manager import Manager
from roadie.worker.poller import Poller

__all__ = ["Launcher", "dump_threads"]

logger = logging.getLogger(__name__)


def dump_threads() -> None:
    """Log the stack of every thread (the TTIN signal)."""
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        stack = "".join(traceback.format_stack(frame)) if frame is not None else "  (no frame)\n"
        logger.warning("thread %s (ident %s):\n%s", thread.name, thread.ident, stack.rstrip())


class Launcher:
    """One worker process's runtime, built from :class:`~roadie.config.Settings`.

    ``burst=True`` runs until every queue is empty and no scheduled or retry
    job is due, then stops. ``lookup`` maps a job name to a job function
    (default: the ``@job`` registry).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        burst: bool = False,
        lookup: Callable[[str], Any] | None = None,
        embedded: bool = False,
    ) -> None:
        self.settings = settings
        self.burst = burst
        self.identity = make_identity()
        self.keys = Keys(settings.namespace)
        self._url = settings.resolved_redis_url
        self._lookup = lookup or job_module.get_job
        self._stop_requested = threading.Event()
        self._stopped = False
        self._signal_count = 0
        self.exit_code = 0

        self.connection = connect(self._url, client_name="roadie")
        scripts = scripts_for(self.connection)
        registered = job_module.registered_jobs().values()
        has_async = any(job.is_async for job in registered)
        has_sync = any(not job.is_async for job in registered) or not has_async

        self.poller = Poller(settings, self.keys, self.connection, scripts)
        self.manager = Manager(
            settings, self.keys, self.connection, lambda: connect(self._url, client_name="roadie-waiter"),
            scripts, self.identity, self._lookup,
            has_sync_jobs=has_sync, has_async_jobs=has_async, burst=burst, on_empty=self._on_empty,
        )
        self.recovery = Recovery(settings, self.keys, self.connection, scripts, self.identity)
        self.heartbeat = Heartbeat(
            settings, self.keys, self.connection, self.identity, self.manager.counters, self.manager.metrics,
            self.manager.busy,
            lambda: self.manager.quieted, self._on_remote_signal, self.recovery, self.manager.reconcile,
            concurrency=self.manager.concurrency, embedded=embedded,
        )

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Connect, log the banner, register this process, recover dead ones, and start every thread."""
        server = self._wait_for_redis()
        version = server.get("valkey_version") or server.get("redis_version", "?")
        store = "Valkey" if "valkey_version" in server else "Redis"
        queues = ", ".join(str(queue) for queue in self.settings.queues)
        slots = f"{self.manager.thread_count} threads"
        if self.manager.async_slots:
            slots += f" + {self.manager.async_slots} async slots"
        logger.info(
            "roadie %s starting: identity %s, environment %s, concurrency %d (%s), queues %s (%s), %s %s at %s%s",
            __version__, self.identity, self.settings.environment, self.manager.concurrency, slots, queues,
            "strict order" if self.settings.strict_queues else "weighted", store, version,
            redact_url(self._url), ", burst mode" if self.burst else "",
        )
        jobs = sorted(job_module.registered_jobs())
        logger.info("jobs registered (%d): %s", len(jobs), ", ".join(jobs) or "none; use -r to import them")

        # The first beat registers the in-progress lists before any fetch,
        # so recovery elsewhere can always find this process's jobs.
        middleware.fire("startup")
        self.heartbeat.beat()
        self.heartbeat.recover(use_lock=False)
        self.manager.start()
        self.poller.start()
        self.heartbeat.start()
        logger.info("ready: fetching jobs")

    def _wait_for_redis(self, patience: float = 30.0) -> dict[str, Any]:
        """Return the server's INFO, retrying for ``patience`` seconds while Redis is unreachable.

        A worker often starts together with Redis (a container restart, a
        deploy), so a short wait beats failing at once.
        """
        deadline = time.monotonic() + patience
        delays = backoff_delays(0.2, 2.0)
        while True:
            try:
                return self.connection.info("server")
            except CONNECTION_ERRORS as exc:
                if time.monotonic() > deadline or self._stop_requested.is_set():
                    raise unavailable(self._url, exc) from exc
                logger.warning("waiting for Redis at %s (%s): start it, point the worker at another with "
                               "--redis-url or REDIS_URL, or use --embedded for local development",
                               redact_url(self._url), str(exc).rstrip("."))
                time.sleep(next(delays))

    def quiet(self) -> None:
        """Stop taking new jobs; running ones finish. The process keeps beating until stopped."""
        if not self.manager.quieted:
            logger.info("quiet: no new jobs will be fetched")
            self.manager.quiet()
            middleware.fire("quiet")
        self.poller.stop(timeout=0.1)

    def stop(self, timeout: float | None = None) -> None:
        """Stop: quiet, wait up to ``timeout`` (default: the setting) for running jobs, push back the rest."""
        if self._stopped:
            return
        self._stopped = True
        timeout = self.settings.timeout if timeout is None else timeout
        logger.info("shutting down; running jobs get %.0f s to finish", timeout)
        self.quiet()
        started = time.monotonic()
        if not self.manager.stop(started + timeout):
            logger.warning("some jobs did not finish or could not be acknowledged; see the lines above")
        self.poller.stop()
        middleware.fire("shutdown")
        self.heartbeat.stop()
        self.heartbeat.clear()
        self.connection.close()
        logger.info("stopped after %.1f s", time.monotonic() - started)

    def kill(self) -> None:
        """Stop at once: push back every running job and leave."""
        self.stop(timeout=0.0)

    def request_stop(self) -> None:
        """Ask :meth:`run` to stop, from any thread."""
        self._stop_requested.set()

    def run(self) -> int:
        """Start, wait for a stop signal (or burst completion), stop; return the exit code."""
        self._install_signal_handlers()
        self.start()
        try:
            while not self._stop_requested.wait(0.5):
                pass
        finally:
            deadline_hit = self._signal_count > 1
            self.stop(timeout=0.0 if deadline_hit else None)
        return self.exit_code

    # ----------------------------------------------------------------- inner

    def _on_empty(self) -> None:
        if self.manager.in_flight() > 0:
            return
        try:
            if self.poller.due_jobs_exist():
                self.poller.enqueue_due()
                return
        except CONNECTION_ERRORS:
            return
        if self.manager.in_flight() == 0 and not self._stop_requested.is_set():
            logger.info("burst mode: every queue is empty and no scheduled job is due")
            self.request_stop()

    def _on_remote_signal(self, name: str) -> None:
        if name == "TSTP":
            self.quiet()
        elif name == "TERM":
            self.request_stop()
        elif name == "TTIN":
            dump_threads()
        else:
            logger.warning("ignoring unknown remote signal %r", name)

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_stop(signum: int, frame: Any) -> None:
            self._signal_count += 1
            if self._signal_count == 1:
                logger.info("received %s; stopping", signal.Signals(signum).name)
                self.request_stop()
            else:
                # A second TERM or INT: push running jobs back and leave now.
                logger.warning("received %s again; stopping now", signal.Signals(signum).name)
                self.manager.hurry()
                self.request_stop()

        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)
        if hasattr(signal, "SIGTSTP"):
            signal.signal(signal.SIGTSTP, lambda signum, frame: self.quiet())
        if hasattr(signal, "SIGTTIN"):
            signal.signal(signal.SIGTTIN, lambda signum, frame: dump_threads())

