"""Push jobs into Redis: :class:`Client` and its asyncio twin :class:`AsyncClient`.

A client takes Sidekiq job hashes, so a Python application can enqueue jobs
for Ruby classes by name::

    client = roadie.Client("redis://localhost:6379/0")
    client.push({"class": "HardJob", "args": [1, "two"], "queue": "critical"})

Pushing now is ``SADD queues`` plus ``LPUSH queue:<name>`` in one pipeline; a
job with a future ``at`` goes to the ``schedule`` sorted set instead.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis
import redis.asyncio

from roadie import payload
from roadie._time import now, to_epoch
from roadie.config import Settings, redact_url
from roadie.errors import JobArgumentError
from roadie.middleware import Chain, client_middleware
from roadie.storage import keys as keys_module
from roadie.storage.redis import CONNECTION_ERRORS, connect, connect_async, unavailable

__all__ = [
    "AsyncClient",
    "Client",
    "client_middleware",
    "close_default_async_client",
    "configure",
    "default_async_client",
    "default_client",
    "default_settings",
]

logger = logging.getLogger(__name__)

# Jobs per pipeline in push_bulk, as Sidekiq's push_bulk slices them.
BULK_BATCH_SIZE = 1000

# Marks a key that no earlier job of a bulk push has checked.
_UNCHECKED = object()
_IMMUTABLE_TYPES = (str, int, float, bool, type(None))


class _BulkChecks:
    """The checks _normalize has already made during one bulk push."""

    __slots__ = ("values", "ruby_floats")

    def __init__(self) -> None:
        # Key to the immutable value that passed the checks for an earlier job.
        self.values: dict[str, Any] = {}
        # Whether the job checked last contains a float that Ruby writes in exponent form.
        self.ruby_floats = False


class _Prepared:
    """A job ready to write: its queue, its JSON, and its run time if scheduled."""

    __slots__ = ("jid", "queue", "data", "at")

    def __init__(self, jid: str, queue: str, data: bytes, at: float | None) -> None:
        self.jid = jid
        self.queue = queue
        self.data = data
        self.at = at


class _BaseClient:
    """Base of the sync and async clients: settings, keys and job normalization."""

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        namespace: str | None = None,
        middleware: Chain | None = None,
    ) -> None:
        self.settings = settings or default_settings()
        self.url = url or self.settings.resolved_redis_url
        self.keys = keys_module.Keys(self.settings.namespace if namespace is None else namespace)
        self.middleware = client_middleware if middleware is None else middleware

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r})"

    def _normalize(self, job: Mapping[str, Any], bulk: _BulkChecks | None = None) -> dict[str, Any]:
        """Validate a job hash and fill in jid, queue, retry and created_at.

        Raises JobArgumentError naming the first invalid field. In a bulk
        push, a key whose value is the very object that passed for an earlier
        job is not checked again, and ``bulk.ruby_floats`` records for
        :func:`roadie.payload.dumps` whether this job needs Ruby's float form.
        """
        checked = bulk.values if bulk is not None else None
        if not isinstance(job, Mapping):
            raise JobArgumentError(f"a job hash must be a dict, got {type(job).__name__}")
        item = dict(job)
        job_class = item.get("class")
        if not isinstance(job_class, str) or not job_class:
            raise JobArgumentError(f"job hash needs 'class', the job name as a non-empty string; got {job_class!r}")
        args = item.get("args")
        if not isinstance(args, list):
            raise JobArgumentError(f"job {job_class!r}: 'args' must be a list, got {type(args).__name__}")
        ruby_floats = payload.check_json_native(args, "args")
        if "kwargs" in item:
            if not isinstance(item["kwargs"], dict):
                raise JobArgumentError(f"job {job_class!r}: 'kwargs' must be a dict")
            if not item["kwargs"]:
                del item["kwargs"]
            else:
                ruby_floats = payload.check_json_native(item["kwargs"], "kwargs") or ruby_floats

        item.setdefault("queue", "default")
        item.setdefault("retry", True)
        for name in payload.JOB_OPTIONS:
            if name in item:
                if checked is not None and checked.get(name, _UNCHECKED) is item[name]:
                    continue
                problem = payload.option_problem(name, item[name])
                if problem:
                    raise JobArgumentError(f"job {job_class!r}: {problem}")
        if "tags" in item:
            item["tags"] = list(item["tags"])

        jid = item.get("jid")
        if jid is None:
            item["jid"] = payload.new_jid()
        elif not isinstance(jid, str) or not jid:
            raise JobArgumentError(f"job {job_class!r}: 'jid' must be a non-empty string, got {jid!r}")
        # Keys checked above, or set here to values that need no check.
        done: tuple[str, ...] = ("args", "kwargs")
        if "created_at" not in item:
            item["created_at"] = now()
            done = ("args", "kwargs", "created_at")
        if "at" in item:
            self._normalize_at(item, job_class)

        for key, value in item.items():
            if key in done:
                continue
            if checked is not None and checked.get(key, _UNCHECKED) is value:
                if type(value) is float and payload.needs_ruby_form(value):
                    ruby_floats = True
                continue
            ruby_floats = payload.check_json_native(value, key) or ruby_floats
            # Only immutable values are remembered: a dict or list shared by
            # the jobs could change between them.
            if checked is not None and type(value) in _IMMUTABLE_TYPES:
                checked[key] = value
        if bulk is not None:
            bulk.ruby_floats = ruby_floats
        return item

    @staticmethod
    def _normalize_at(item: dict[str, Any], job_class: str) -> None:
        # Middleware and the schedule score see `at` as float epoch seconds,
        # the only form Sidekiq writes, even when the caller gave a datetime.
        if item["at"] is None:
            del item["at"]
            return
        try:
            item["at"] = to_epoch(item["at"])
        except TypeError as exc:
            raise JobArgumentError(f"job {job_class!r}: invalid 'at': {exc}") from None

    def _prepare(self, item: dict[str, Any], ruby_floats: bool | None = None) -> _Prepared:
        """Make the job's JSON; ``ruby_floats`` is what _normalize recorded, None to let dumps search."""
        at = item.pop("at", None)
        run_at: float | None = None
        if at is not None:
            # A middleware may have set `at` after _normalize ran.
            try:
                run_at = to_epoch(at)
            except TypeError as exc:
                raise JobArgumentError(f"job {item['class']!r}: invalid 'at': {exc}") from None
            if run_at <= now():
                run_at = None
        if run_at is None:
            item["enqueued_at"] = now()
        else:
            # Sidekiq stores scheduled jobs without these; enqueued_at is set
            # when the poller moves the job to its queue.
            item.pop("enqueued_at", None)
        if len(self.middleware):
            # Values a middleware added after _normalize are not checked yet,
            # and orjson would quietly turn a datetime into a string.
            ruby_floats = payload.check_json_native(item, "job")
        data = payload.dumps(item, ruby_floats=ruby_floats)
        if len(data) > self.settings.max_payload_bytes:
            logger.warning(
                "job %s (%s) is %d bytes, above max_payload_bytes=%d; large payloads slow Redis down, "
                "so store the data elsewhere and pass a reference",
                item["class"], item["jid"], len(data), self.settings.max_payload_bytes,
            )
        return _Prepared(item["jid"], item["queue"], data, run_at)

    def _write_commands(self, pipe: Any, batch: Sequence[_Prepared]) -> None:
        by_queue: dict[str, list[bytes]] = {}
        for job in batch:
            if job.at is None:
                by_queue.setdefault(job.queue, []).append(job.data)
            else:
                pipe.zadd(self.keys.schedule, {job.data: job.at})
        if by_queue:
            pipe.sadd(self.keys.queues, *by_queue)
            for queue, data in by_queue.items():
                pipe.lpush(self.keys.queue(queue), *data)

    @staticmethod
    def _bulk_items(job: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Split a Sidekiq push_bulk hash (``args`` is a list of argument lists) into job hashes."""
        if not isinstance(job, Mapping):
            raise JobArgumentError(f"push_bulk takes a dict, got {type(job).__name__}")
        all_args = job.get("args")
        if not isinstance(all_args, list) or not all(isinstance(args, list) for args in all_args):
            raise JobArgumentError("push_bulk needs 'args' as a list of argument lists, such as [[1], [2]]")
        at = job.get("at")
        if isinstance(at, list) and len(at) != len(all_args):
            raise JobArgumentError(f"push_bulk: 'at' has {len(at)} times for {len(all_args)} jobs")
        if "jid" in job:
            raise JobArgumentError("push_bulk makes one jid per job; remove 'jid' from the hash")
        items = []
        for index, args in enumerate(all_args):
            item = {key: value for key, value in job.items() if key not in ("args", "at")}
            item["args"] = args
            when = at[index] if isinstance(at, list) else at
            if when is not None:
                item["at"] = when
            items.append(item)
        return items


class Client(_BaseClient):
    """Pushes jobs to Redis. Thread-safe; share one per process.

    ``url`` defaults to the settings' Redis URL (``REDIS_URL``, roadie.yml).
    No connection is made until the first push.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        namespace: str | None = None,
        middleware: Chain | None = None,
        connection: redis.Redis | None = None,
    ) -> None:
        super().__init__(url, settings=settings, namespace=namespace, middleware=middleware)
        self._connection = connection
        self._lock = threading.Lock()

    @property
    def connection(self) -> redis.Redis:
        """The redis-py client, created on first use."""
        if self._connection is None:
            with self._lock:
                if self._connection is None:
                    self._connection = connect(self.url)
        return self._connection

    def push(self, job: Mapping[str, Any]) -> str | None:
        """Push one job hash and return its jid, or None if a middleware stopped it."""
        item = self._normalize(job)
        final = self.middleware.invoke((item, item["queue"]), lambda: item)
        if final is None:
            return None
        prepared = self._prepare(final)
        self._execute([prepared])
        return prepared.jid

    def push_bulk(self, job: Mapping[str, Any], *, batch_size: int = BULK_BATCH_SIZE) -> list[str | None]:
        """Push many jobs of one class: ``job["args"]`` is a list of argument lists.

        ``at`` may be one time for all jobs or a list with one time per job.
        Returns the jids in order, with None where a middleware stopped a job.
        """
        return self.push_many(self._bulk_items(job), batch_size=batch_size)

    def push_many(self, jobs: Iterable[Mapping[str, Any]], *, batch_size: int = BULK_BATCH_SIZE) -> list[str | None]:
        """Push job hashes in pipelines of ``batch_size``; return their jids (None where stopped).

        A string, number, bool or None shared by several of the hashes, such
        as the queue and retry options of one perform_bulk call, is validated
        once. Dicts and lists are validated for every job, because they could
        change between jobs.
        """
        jids: list[str | None] = []
        batch: list[_Prepared] = []
        bulk = _BulkChecks()
        for raw in jobs:
            item = self._normalize(raw, bulk)
            final = self.middleware.invoke((item, item["queue"]), lambda item=item: item)
            if final is None:
                jids.append(None)
                continue
            prepared = self._prepare(final, bulk.ruby_floats)
            batch.append(prepared)
            jids.append(prepared.jid)
            if len(batch) >= batch_size:
                self._execute(batch)
                batch = []
        if batch:
            self._execute(batch)
        return jids

    def enqueue(self, job_class: str, *args: Any, **options: Any) -> str | None:
        """Push a job by class name with positional ``args``; ``options`` are job-hash keys."""
        return self.push({"class": job_class, "args": list(args), **options})

    def close(self) -> None:
        """Close the connection pool. The client reconnects if used again."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _execute(self, batch: Sequence[_Prepared]) -> None:
        for attempt in (1, 2):
            try:
                if len(batch) == 1 and batch[0].at is None:
                    self._push_one(batch[0])
                    return
                with self.connection.pipeline(transaction=False) as pipe:
                    self._write_commands(pipe, batch)
                    pipe.execute()
                return
            except redis.exceptions.ReadOnlyError:
                # After a failover the old primary returns READONLY errors; new
                # connections find the new primary. Retry once, as Sidekiq does.
                self.connection.connection_pool.disconnect()
                if attempt == 2:
                    raise unavailable(self.url, RuntimeError("server is read-only after two attempts")) from None
            except CONNECTION_ERRORS as exc:
                raise unavailable(self.url, exc) from exc

    def _push_one(self, job: _Prepared) -> None:
        """Send SADD and LPUSH for one job in one round trip, without a redis-py pipeline object.

        Building the pipeline cost more than the two commands: sending them on
        a pooled connection directly made perform_async about 12 % faster.
        """
        pool = self.connection.connection_pool
        connection = pool.get_connection()
        packed = connection.pack_commands([
            ("SADD", self.keys.queues, job.queue),
            ("LPUSH", self.keys.queue(job.queue), job.data),
        ])

        def send() -> None:
            connection.send_packed_command(packed)
            connection.read_response()
            connection.read_response()

        try:
            # The connection's retry policy, as redis-py applies it to a pipeline:
            # a pooled connection that a Redis restart closed reconnects.
            connection.retry.call_with_retry(send, lambda error: connection.disconnect())
        except BaseException:
            # A reply may be left unread on the socket, so the connection is not reused.
            connection.disconnect()
            raise
        finally:
            pool.release(connection)


class AsyncClient(_BaseClient):
    """The asyncio twin of :class:`Client`, on ``redis.asyncio``. Middleware may be async."""

    def __init__(
        self,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        namespace: str | None = None,
        middleware: Chain | None = None,
        connection: redis.asyncio.Redis | None = None,
    ) -> None:
        super().__init__(url, settings=settings, namespace=namespace, middleware=middleware)
        self._connection = connection

    @property
    def connection(self) -> redis.asyncio.Redis:
        if self._connection is None:
            self._connection = connect_async(self.url)
        return self._connection

    async def push(self, job: Mapping[str, Any]) -> str | None:
        """Push one job hash and return its jid, or None if a middleware stopped it."""
        item = self._normalize(job)

        async def final() -> dict[str, Any]:
            return item

        result = await self.middleware.invoke_async((item, item["queue"]), final)
        if result is None:
            return None
        prepared = self._prepare(result)
        await self._execute([prepared])
        return prepared.jid

    async def push_bulk(self, job: Mapping[str, Any], *, batch_size: int = BULK_BATCH_SIZE) -> list[str | None]:
        """Push many jobs of one class; see :meth:`Client.push_bulk`."""
        return await self.push_many(self._bulk_items(job), batch_size=batch_size)

    async def push_many(
        self, jobs: Iterable[Mapping[str, Any]], *, batch_size: int = BULK_BATCH_SIZE
    ) -> list[str | None]:
        """Push job hashes in pipelines of ``batch_size``; return their jids (None where stopped).

        Shared values are validated once, as in :meth:`Client.push_many`.
        """
        jids: list[str | None] = []
        batch: list[_Prepared] = []
        bulk = _BulkChecks()
        for raw in jobs:
            item = self._normalize(raw, bulk)

            async def final(item: dict[str, Any] = item) -> dict[str, Any]:
                return item

            result = await self.middleware.invoke_async((item, item["queue"]), final)
            if result is None:
                jids.append(None)
                continue
            prepared = self._prepare(result, bulk.ruby_floats)
            batch.append(prepared)
            jids.append(prepared.jid)
            if len(batch) >= batch_size:
                await self._execute(batch)
                batch = []
        if batch:
            await self._execute(batch)
        return jids

    async def enqueue(self, job_class: str, *args: Any, **options: Any) -> str | None:
        """Push a job by class name with positional ``args``; ``options`` are job-hash keys."""
        return await self.push({"class": job_class, "args": list(args), **options})

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _execute(self, batch: Sequence[_Prepared]) -> None:
        for attempt in (1, 2):
            try:
                async with self.connection.pipeline(transaction=False) as pipe:
                    self._write_commands(pipe, batch)
                    await pipe.execute()
                return
            except redis.exceptions.ReadOnlyError:
                await self.connection.connection_pool.disconnect()
                if attempt == 2:
                    raise unavailable(self.url, RuntimeError("server is read-only after two attempts")) from None
            except CONNECTION_ERRORS as exc:
                raise unavailable(self.url, exc) from exc


# ------------------------------------------------------------ process defaults

_defaults_lock = threading.Lock()
_default_settings: Settings | None = None
_default_client: Client | None = None
# One AsyncClient per event loop, because a redis.asyncio connection can only
# be used on the loop that opened it. An entry goes away with its loop.
_default_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def default_settings() -> Settings:
    """Return the process-wide settings, loaded from roadie.yml and the environment on first use."""
    global _default_settings
    if _default_settings is None:
        with _defaults_lock:
            if _default_settings is None:
                _default_settings = Settings.load()
    return _default_settings


def default_client() -> Client:
    """Return the process-wide client that ``perform_async`` and friends use, built on first use."""
    global _default_client
    if _default_client is None:
        with _defaults_lock:
            if _default_client is None:
                _default_client = Client(settings=_default_settings or Settings.load())
    return _default_client


def default_async_client() -> AsyncClient:
    """Return the running event loop's default AsyncClient, which ``aperform_async`` and friends use.

    It is built on first use in each loop, with the process-wide settings.
    Call :func:`close_default_async_client` before the loop ends to close its
    connections; otherwise they are dropped with the loop.
    """
    loop = asyncio.get_running_loop()
    with _defaults_lock:
        client = _default_async_clients.get(loop)
        if client is None:
            client = AsyncClient(settings=_default_settings or Settings.load())
            _default_async_clients[loop] = client
    return client


async def close_default_async_client() -> None:
    """Close and forget the running event loop's default AsyncClient, if it has one."""
    loop = asyncio.get_running_loop()
    with _defaults_lock:
        client = _default_async_clients.pop(loop, None)
    if client is not None:
        await client.close()


def configure(url: str | None = None, *, settings: Settings | None = None, **changes: Any) -> Settings:
    """Set the process-wide settings and client, for example ``roadie.configure(url=...)``.

    ``changes`` are setting names with values, applied over ``settings`` (or
    over what roadie.yml and the environment give). Returns the settings.
    Default AsyncClients built before are forgotten without being closed,
    because each must be closed on its own event loop.
    """
    global _default_settings, _default_client
    base = settings or Settings.load()
    if url is not None:
        changes["redis_url"] = url
    new_settings = base.replace(**changes) if changes else base
    with _defaults_lock:
        old_client = _default_client
        _default_settings = new_settings
        _default_client = None
        _default_async_clients.clear()
    if old_client is not None:
        old_client.close()
    return new_settings


def _reset_defaults() -> None:
    """Forget the process-wide settings and client; for tests."""
    global _default_settings, _default_client
    with _defaults_lock:
        old_client, _default_client, _default_settings = _default_client, None, None
        _default_async_clients.clear()
    if old_client is not None:
        old_client.close()

