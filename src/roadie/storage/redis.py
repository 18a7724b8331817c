"""Connections to Redis, and errors that name the server without its password."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import redis
import redis.asyncio
import redis.asyncio.sentinel
import redis.sentinel
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


SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


class SentinelURL:
    """The parts of ``redis+sentinel://[:password@]host[:port][,host[:port]...]/service[/db]``.

    Query parameters: ``sentinel_password`` (for the sentinels themselves,
    when it differs from the data password) and ``socket_timeout``.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        userinfo, at, hosts = parts.netloc.rpartition("@")
        self.username: str | None = None
        self.password: str | None = None
        if at:
            user, _, password = userinfo.partition(":")
            self.username = unquote(user) or None
            self.password = unquote(password) or None
        self.sentinels: list[tuple[str, int]] = []
        for item in hosts.split(","):
            if item.startswith("["):
                host, _, rest = item[1:].partition("]")
                port = rest.lstrip(":") or "26379"
            else:
                host, _, port = item.partition(":")
                port = port or "26379"
            if not host or not port.isdigit():
                raise ValueError(f"invalid sentinel address {item!r}; expected host:port")
            self.sentinels.append((host, int(port)))
        path = [part for part in parts.path.split("/") if part]
        if not path:
            raise ValueError("the URL names no service; expected redis+sentinel://host:26379/<service>[/<db>]")
        self.service = unquote(path[0])
        self.db = int(path[1]) if len(path) > 1 else 0
        query = dict(parse_qsl(parts.query))
        self.sentinel_password = query.get("sentinel_password")
        self.ssl = parts.scheme.startswith("rediss")


def _connection_kwargs(options: dict[str, Any], parsed: SentinelURL) -> dict[str, Any]:
    kwargs = {key: value for key, value in options.items() if key != "max_connections"}
    kwargs.update(db=parsed.db, username=parsed.username, password=parsed.password, ssl=parsed.ssl)
    return kwargs


def connect(url: str, *, max_connections: int | None = None, client_name: str | None = None) -> redis.Redis:
    """Return a redis-py client for ``url`` that returns bytes, so payloads keep their exact form.

    A ``redis+sentinel://`` URL connects to the primary its sentinels name,
    and follows failovers (redis-py's Sentinel support).
    """
    try:
        if url.startswith(SENTINEL_SCHEMES):
            parsed = SentinelURL(url)
            sentinel = redis.sentinel.Sentinel(
                parsed.sentinels,
                sentinel_kwargs={"password": parsed.sentinel_password, "socket_timeout": _CONNECT_TIMEOUT},
                **_connection_kwargs(_options(max_connections), parsed),
                client_name=client_name,
            )
            return sentinel.master_for(parsed.service)
        return redis.Redis.from_url(url, **_options(max_connections), client_name=client_name)
    except ValueError as exc:
        raise RedisUnavailableError(f"invalid Redis URL {redact_url(url)!r}: {exc}") from None


def connect_async(url: str, *, max_connections: int | None = None) -> redis.asyncio.Redis:
    """Return an asyncio redis-py client for ``url`` that returns bytes; sentinel URLs as in :func:`connect`."""
    options = _options(max_connections)
    options["retry"] = redis.asyncio.retry.Retry(ExponentialBackoff(cap=0.5, base=0.05), retries=1)
    try:
        if url.startswith(SENTINEL_SCHEMES):
            parsed = SentinelURL(url)
            sentinel = redis.asyncio.sentinel.Sentinel(
                parsed.sentinels,
                sentinel_kwargs={"password": parsed.sentinel_password, "socket_timeout": _CONNECT_TIMEOUT},
                **_connection_kwargs(options, parsed),
            )
            return sentinel.master_for(parsed.service)
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
