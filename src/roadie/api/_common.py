"""Helpers shared by the admin API classes: client lookup, Redis error translation, decoding, paging."""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import orjson
import redis

from roadie._time import epoch_from_timestamp, now
from roadie.client import Client, default_client
from roadie.config import Settings
from roadie.storage.keys import Keys
from roadie.storage.redis import CONNECTION_ERRORS, unavailable
from roadie.storage.scripts import script_source

# Jobs read per LRANGE or ZRANGE while iterating.
PAGE_SIZE = 50

_Function = TypeVar("_Function", bound=Callable[..., Any])


def _client_for(client: Client | None, url: str | None, settings: Settings | None) -> Client:
    if client is not None:
        if url is not None or settings is not None:
            raise TypeError("pass either client or url/settings, not both")
        return client
    if url is not None or settings is not None:
        return Client(url, settings=settings)
    return default_client()


def _translated(method: _Function) -> _Function:
    """Turn redis-py connection errors raised in ``method`` into RedisUnavailableError."""
    if inspect.isgeneratorfunction(method):

        @functools.wraps(method)
        def generator(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            with self._redis_errors():
                yield from method(self, *args, **kwargs)

        return cast(_Function, generator)

    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._redis_errors():
            return method(self, *args, **kwargs)

    return cast(_Function, call)


class _RedisBound:
    """Base of every API class: the client, its connection, keys and settings."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        url: str | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.client = _client_for(client, url, settings)

    @property
    def connection(self) -> redis.Redis:
        return self.client.connection

    @property
    def keys(self) -> Keys:
        return self.client.keys

    @property
    def settings(self) -> Settings:
        return self.client.settings

    @contextlib.contextmanager
    def _redis_errors(self) -> Iterator[None]:
        try:
            yield
        except CONNECTION_ERRORS as exc:
            raise unavailable(self.client.url, exc) from exc

    def _script(self, name: str) -> Any:
        return self.connection.register_script(script_source(name))


def _text(value: bytes | str | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _int(value: bytes | str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def _float(value: bytes | str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _glob_escape(text: str) -> str:
    """Escape the characters Redis glob patterns treat specially, so ``text`` matches literally."""
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


def _decode_item(raw: bytes) -> tuple[dict[str, Any], bool]:
    """Return the job hash in ``raw`` and True, or for anything but a JSON object, ``{"args": [text]}`` and False."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict):
        return value, True
    return {"args": [raw.decode("utf-8", "replace")]}, False


def _enqueued_latency(raw: bytes | None) -> float:
    """Return seconds since the job in ``raw`` was pushed; 0.0 without a readable ``enqueued_at``."""
    if raw is None:
        return 0.0
    item, _ = _decode_item(raw)
    enqueued_at = epoch_from_timestamp(item.get("enqueued_at"))
    if enqueued_at is None:
        return 0.0
    return max(0.0, now() - enqueued_at)


def _prepare_push(client: Client, item: dict[str, Any]) -> Any:
    """Run ``item`` through the client's push path without writing it; None when a middleware stopped it.

    Returns the client's prepared job (``queue``, ``data``), with a fresh
    ``enqueued_at``. Raises JobArgumentError for a hash the client rejects.
    """
    # NOTE: this uses Client internals so a move out of a sorted set gets the
    # same validation, client middleware and enqueued_at as Client.push, while
    # removal and push still run in one Lua call. A public Client method that
    # prepares without writing would remove the coupling.
    item = dict(item)
    item.pop("at", None)
    normalized = client._normalize(item)
    final = client.middleware.invoke((normalized, normalized["queue"]), lambda: normalized)
    if final is None:
        return None
    return client._prepare(final)



def _after_cursor(page: Sequence[Any], last: bytes, member: Callable[[Any], bytes]) -> list[Any] | None:
    """Return ``page`` minus its first element when that element is ``last``, else None."""
    if page and member(page[0]) == last:
        return list(page[1:])
    return None
