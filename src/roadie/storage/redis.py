"""Connections to Redis, and errors that name the server without its password."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from roadie.config import redact_url
from roadie.errors import RedisUnavailableError

__all__ = ["CONNECTION_ERRORS", "OutageLog", "backoff_delays", "connect", "connect_async", "unavailable"]

# Errors after which a command may succeed on a fresh connection: the server
# restarted, the network dropped, or a failover made this node a replica.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
)

# Blocking fetches wait up to 2 s on the server, so reads need a longer timeout.
_SOCKET_TIMEOUT = 10.0
_CONNECT_TIMEOUT = 5.0


def _options(max_connections: int | None) -> dict[str, Any]:
    return {
        "socket_timeout": _SOCKET_TIMEOUT,
        "socket_connect_timeout": _CONNECT_TIMEOUT,
        "socket_keepalive": True,
        "health_check_interval": 30,
        "max_connections": max_connections,
        # One quick retry hides a dropped idle connection; longer outages
        # surface to the caller, which logs them and backs off itself.
        "retry": Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1),
        "retry_on_error": [redis.exceptions.ConnectionError, redis.exceptions.TimeoutError],
    }


def connect(url: str, *, max_connections: int | None = None, client_name: str | None = None) -> redis.Redis:
    """Return a redis-py client for ``url`` that returns bytes, so payloads keep their exact form."""
    try:
        client = redis.Redis.from_url(url, **_options(max_connections), client_name=client_name)
    except ValueError as exc:
        raise RedisUnavailableError(f"invalid Redis URL {redact_url(url)!r}: {exc}") from None
    return client


def connect_async(url: str, *, max_connections: int | None = None) -> redis.asyncio.Redis:
    """Return an asyncio redis-py client for ``url`` that returns bytes."""
    options = _options(max_connections)
    options["retry"] = redis.asyncio.retry.Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1)
    try:
        return redis.asyncio.Redis.from_url(url, **options)
    except ValueError as exc:
        raise RedisUnavailableError(f"invalid Redis URL {redact_url(url)!r}: {exc}") from None


def unavailable(url: str, exc: BaseException) -> RedisUnavailableError:
    """Wrap a redis-py error in a RedisUnavailableError naming the server, password redacted."""
    detail = str(exc) or type(exc).__name__
    if "@" in detail or "://" in detail:
        detail = type(exc).__name__
    return RedisUnavailableError(f"Redis is unreachable at {redact_url(url)}: {detail}")


class OutageLog:
    """Logs a Redis outage once when it starts and once, with its length, when it ends.

    Each worker thread that talks to Redis owns one, so a restart of Redis
    produces two lines per thread rather than one per failed command.
    """

    def __init__(self, logger: Any, what: str, url: str) -> None:
        self._logger = logger
        self._what = what
        self._url = redact_url(url)
        self._since: float | None = None

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, exc: BaseException) -> None:
        if self._since is None:
            self._since = time.monotonic()
            self._logger.error(
                "%s: Redis is unreachable at %s (%s: %s); retrying with backoff",
                self._what, self._url, type(exc).__name__, exc,
            )

    def succeeded(self) -> None:
        if self._since is not None:
            downtime = time.monotonic() - self._since
            self._since = None
            self._logger.warning("%s: Redis is reachable again at %s after %.1f s", self._what, self._url, downtime)


def backoff_delays(initial: float = 0.1, cap: float = 5.0) -> Iterator[float]:
    """Yield sleep times that double from ``initial`` up to ``cap``, with jitter."""
    delay = initial
    while True:
        yield delay * (0.5 + random.random() / 2)
        delay = min(delay * 2, cap)
