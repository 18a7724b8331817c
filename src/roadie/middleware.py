"""Middleware chains that wrap enqueueing (client) and running (server) jobs.

A middleware is a callable taking the chain's arguments plus ``call_next``,
around-style: it runs code before and after ``call_next()``, and returns its
result. A client middleware that returns None instead of calling
``call_next`` stops the push.

Client middleware: ``mw(job: dict, queue: str, call_next) -> dict | None``.
Server middleware: ``mw(job_function, job: dict, queue: str, call_next)``.
In async code paths a middleware may be ``async def``; a plain function there
must return ``call_next()``'s result unchanged so the chain can await it.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = [
    "Chain",
    "call_death_handlers",
    "call_error_handlers",
    "client_middleware",
    "death_handlers",
    "error_handlers",
    "fire",
    "lifecycle_handlers",
    "on",
    "server_middleware",
]


_hooks_logger = logging.getLogger(__name__)


class Chain:
    """An ordered, thread-safe list of middleware."""

    def __init__(self, entries: list[Callable[..., Any]] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: tuple[Callable[..., Any], ...] = tuple(entries or ())

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, item: object) -> bool:
        return self._index(item) is not None

    def add(self, middleware: Callable[..., Any]) -> None:
        """Append ``middleware`` so it runs innermost, unless it is already present."""
        with self._lock:
            if self._index(middleware) is None:
                self._entries = (*self._entries, middleware)

    def prepend(self, middleware: Callable[..., Any]) -> None:
        """Insert ``middleware`` so it runs outermost."""
        with self._lock:
            self._entries = (middleware, *self._without(middleware))

    def insert_before(self, existing: object, middleware: Callable[..., Any]) -> None:
        """Insert ``middleware`` just outside ``existing`` (an entry or its class)."""
        self._insert(existing, middleware, offset=0)

    def insert_after(self, existing: object, middleware: Callable[..., Any]) -> None:
        """Insert ``middleware`` just inside ``existing`` (an entry or its class)."""
        self._insert(existing, middleware, offset=1)

    def remove(self, middleware: object) -> None:
        """Remove ``middleware``, given as the entry itself or its class. Absent entries are ignored."""
        with self._lock:
            self._entries = self._without(middleware)

    def clear(self) -> None:
        with self._lock:
            self._entries = ()

    def invoke(self, args: tuple[Any, ...], final: Callable[[], Any]) -> Any:
        """Run the chain around ``final`` and return what the outermost middleware returns."""
        entries = self._entries
        if not entries:
            return final()

        def call(index: int) -> Any:
            if index == len(entries):
                return final()
            return entries[index](*args, lambda: call(index + 1))

        return call(0)

    async def invoke_async(self, args: tuple[Any, ...], final: Callable[[], Awaitable[Any]]) -> Any:
        """Run the chain around the coroutine function ``final``; middleware may be sync or async."""
        entries = self._entries
        if not entries:
            return await final()

        async def call(index: int) -> Any:
            if index == len(entries):
                return await final()
            result = entries[index](*args, lambda: call(index + 1))
            while inspect.isawaitable(result):
                result = await result
            return result

        return await call(0)

    def _insert(self, existing: object, middleware: Callable[..., Any], offset: int) -> None:
        with self._lock:
            entries = list(self._without(middleware))
            index = _find(entries, existing)
            if index is None:
                raise ValueError(f"middleware {existing!r} is not in the chain")
            entries.insert(index + offset, middleware)
            self._entries = tuple(entries)

    def _index(self, item: object) -> int | None:
        return _find(list(self._entries), item)

    def _without(self, item: object) -> tuple[Callable[..., Any], ...]:
        return tuple(entry for entry in self._entries if not _matches(entry, item))


def _matches(entry: object, item: object) -> bool:
    return entry is item or (isinstance(item, type) and isinstance(entry, item))


def _find(entries: list[Callable[..., Any]], item: object) -> int | None:
    for index, entry in enumerate(entries):
        if _matches(entry, item):
            return index
    return None


# ------------------------------------------------------------ process-wide hooks

# Wraps every push of every client not given its own chain.
client_middleware = Chain()

# Wraps every job run by workers in this process.
server_middleware = Chain()

# Called as handler(exception, context) for every job failure and every
# internal error a worker catches. context has "job" (the job hash, when
# there is one), "queue" and "jid", or "context" describing the internal error.
error_handlers: list[Callable[[BaseException, dict[str, Any]], Any]] = []

# Called as handler(job, exception) when a job has no retries left, or was
# killed or discarded.
death_handlers: list[Callable[[dict[str, Any], BaseException], Any]] = []


# Worker lifecycle events and their handlers, called with no arguments:
# startup (before fetching), quiet (fetching stopped), shutdown (after the
# last job), heartbeat (first beat, and first beat after an outage) and beat
# (every beat).
LIFECYCLE_EVENTS = ("startup", "quiet", "shutdown", "heartbeat", "beat")
lifecycle_handlers: dict[str, list[Callable[[], Any]]] = {event: [] for event in LIFECYCLE_EVENTS}


def on(event: str) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Register the decorated function for a worker lifecycle event, e.g. ``@roadie.on("startup")``."""
    if event not in lifecycle_handlers:
        raise ValueError(f"unknown lifecycle event {event!r}; valid events are: {', '.join(LIFECYCLE_EVENTS)}")

    def register(handler: Callable[[], Any]) -> Callable[[], Any]:
        lifecycle_handlers[event].append(handler)
        return handler

    return register


def fire(event: str) -> None:
    """Call the handlers of a lifecycle event; one that raises is logged and never stops the others."""
    for handler in list(lifecycle_handlers[event]):
        try:
            handler()
        except Exception as exc:
            _hooks_logger.exception("%s handler %r raised", event, handler)
            call_error_handlers(exc, {"context": f"{event} event handler"})


def call_error_handlers(exc: BaseException, context: dict[str, Any]) -> None:
    """Call every error handler; one that raises is logged and never stops the others."""
    for handler in list(error_handlers):
        try:
            handler(exc, context)
        except Exception:
            _hooks_logger.exception("error handler %r raised while handling %s", handler, type(exc).__name__)


def call_death_handlers(job: dict[str, Any], exc: BaseException) -> None:
    """Call every death handler; one that raises is logged and never stops the others."""
    for handler in list(death_handlers):
        try:
            handler(job, exc)
        except Exception:
            _hooks_logger.exception("death handler %r raised for job %s", handler, job.get("jid"))
