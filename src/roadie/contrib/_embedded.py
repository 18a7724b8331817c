"""A worker inside a web server's process, as Sidekiq's embedded mode runs one.

It suits small deployments and development: no second process to run, at
the cost of sharing the web process's CPU (and its GIL) with the jobs, so
keep the concurrency small.
"""

from __future__ import annotations

import logging
import threading

from roadie.config import Settings, parse_queue
from roadie.worker.launcher import Launcher

__all__ = ["EmbeddedWorker"]

logger = logging.getLogger(__name__)


class EmbeddedWorker:
    """A :class:`~roadie.worker.launcher.Launcher` started and stopped by its host application.

    Lifecycle: :meth:`start` (blocks until Redis responds, so call it from a
    thread when on an event loop), then :meth:`stop`. A TERM sent from the
    dashboard also stops it, as it does a ``roadie worker`` process.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        concurrency: int = 2,
        queues: list[str] | None = None,
        shutdown_timeout: float | None = None,
    ) -> None:
        changes: dict[str, object] = {"concurrency": concurrency}
        if queues:
            changes["queues"] = tuple(parse_queue(queue) for queue in queues)
        self.settings = settings.replace(**changes)
        self.shutdown_timeout = self.settings.timeout if shutdown_timeout is None else shutdown_timeout
        self.launcher: Launcher | None = None
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Build the launcher and start its threads; raises RedisUnavailableError if Redis stays unreachable."""
        self.launcher = Launcher(self.settings, embedded=True)
        self.launcher.start()
        self._watcher = threading.Thread(target=self._stop_when_requested, name="roadie.embedded", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop taking jobs, give running ones ``shutdown_timeout`` seconds, and return once stopped."""
        if self.launcher is None or self._watcher is None:
            return
        self.launcher.request_stop()
        self._watcher.join()

    @property
    def running(self) -> bool:
        return self._watcher is not None and self._watcher.is_alive()

    def _stop_when_requested(self) -> None:
        assert self.launcher is not None
        # NOTE: reads the launcher's private stop event, the one Launcher.run
        # waits on, because a remote TERM sets it and nothing else waits here.
        self.launcher._stop_requested.wait()
        try:
            self.launcher.stop(timeout=self.shutdown_timeout)
        except Exception:
            logger.exception("the embedded worker %s failed to stop cleanly", self.launcher.identity)
