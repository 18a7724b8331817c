"""The ``@job`` decorator, the enqueue verbs, and the registry workers look jobs up in.

::

    @roadie.job(queue="mailers", retry=5)
    def send_welcome(user_id: int) -> None: ...

    send_welcome.perform_async(42)                  # run soon
    send_welcome.perform_in(60, 42)                 # in 60 s
    send_welcome.set(queue="critical").perform_async(42)

Positional arguments travel in the job hash's ``args`` array, which Ruby's
Sidekiq reads too. Keyword arguments travel in a separate ``kwargs`` object
that Sidekiq carries along but does not pass to Ruby code, so jobs shared
with Ruby should take positional arguments only.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import inspect
import math
import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from roadie import payload
from roadie._time import now
from roadie.client import AsyncClient, Client, default_async_client, default_client
from roadie.errors import JobArgumentError, JobDefinitionError

__all__ = ["JobFunction", "JobHandle", "get_job", "job", "registered_jobs"]

P = ParamSpec("P")
R = TypeVar("R")

# perform_in treats a delay at or above this as an absolute epoch time, as
# Sidekiq's perform_in does, so passing a timestamp by mistake still works.
_ABSOLUTE_TIME_THRESHOLD = 1_000_000_000

_registry: dict[str, JobFunction[Any, Any]] = {}
_registry_lock = threading.Lock()

# Hooks through which layers above this module change how jobs are pushed,
# so that this module never imports them.
#
# roadie.testing sets _push_override for the current thread or asyncio task
# (its fake and inline modes). The value provides push(job_function, items,
# client) and async apush(job_function, items, async_client), both returning
# the jids, plus jobs(name), drain(job_function) and clear(name) behind
# JobFunction.jobs, .drain() and .clear().
_push_override: contextvars.ContextVar[Any] = contextvars.ContextVar("roadie_push_override", default=None)

# roadie.contrib.django sets _push_wrapper for the whole process, to hold
# pushes back until the database transaction commits. It is called as
# wrapper(items, push) on the sync path only, must return one jid per item,
# and decides when push() runs.
_push_wrapper: Callable[[list[dict[str, Any]], Callable[[], list[str | None]]], list[str | None]] | None = None


def registered_jobs() -> dict[str, JobFunction[Any, Any]]:
    """Return a copy of the registry: job name to job function."""
    with _registry_lock:
        return dict(_registry)


def get_job(name: str) -> JobFunction[Any, Any] | None:
    """Return the job registered under ``name``, or None."""
    return _registry.get(name)


def _default_name(fn: Callable[..., Any]) -> str:
    module = fn.__module__
    if module == "__main__":
        # A script run as `python jobs.py` and the worker's `-r jobs.py` must
        # agree on the name; the worker imports the file as module `jobs`.
        main_file = getattr(sys.modules.get("__main__"), "__file__", None)
        if main_file:
            module = os.path.splitext(os.path.basename(main_file))[0]
    return f"{module}.{fn.__qualname__}"


def _register(job_function: JobFunction[Any, Any]) -> None:
    with _registry_lock:
        existing = _registry.get(job_function.name)
        if existing is not None and not _same_definition(existing.fn, job_function.fn):
            raise JobDefinitionError(
                f"job name {job_function.name!r} is already used by {existing.fn.__module__}."
                f"{existing.fn.__qualname__}; give one of them another name with @job(name=...)"
            )
        _registry[job_function.name] = job_function


def _same_definition(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    # A module imported again (reloaded, or from another path under the same
    # module name) defines the same function again; that is not a clash.
    return a.__module__ == b.__module__ and a.__qualname__ == b.__qualname__


def _check_options(options: Mapping[str, Any], error: type[Exception], where: str) -> dict[str, Any]:
    checked = {}
    for name, value in options.items():
        if value is None:
            continue
        problem = payload.option_problem(name, value)
        if problem:
            raise error(f"{where}: {problem}")
        checked[name] = list(value) if name == "tags" else value
    return checked


class _Enqueuer(Generic[P, R]):
    """The enqueue verbs, shared by a job function and a handle made with ``.set()``."""

    _job: JobFunction[P, R]
    _options: dict[str, Any]
    _client: Client | None
    _async_client: AsyncClient | None

    def _build(self, args: tuple[Any, ...], kwargs: dict[str, Any], at: float | None) -> dict[str, Any]:
        # Only the binding here: the client checks that every value is
        # JSON-native when it normalizes the job hash, so one walk suffices.
        self._job.check_binding(args, kwargs)
        item: dict[str, Any] = {"class": self._job.name, "args": list(args), **self._options}
        if kwargs:
            item["kwargs"] = kwargs
        if at is not None:
            item["at"] = at
        return item

    def _client_or_default(self) -> Client:
        return self._client or default_client()

    def _async_client_or_default(self) -> AsyncClient:
        return self._async_client or default_async_client()

    def perform_async(self, *args: P.args, **kwargs: P.kwargs) -> str | None:
        """Enqueue the job to run as soon as a worker is free; return its jid (None if a middleware stopped it)."""
        return self._push(self._build(args, kwargs, None))

    def perform_in(self, delay: float | dt.timedelta, *args: P.args, **kwargs: P.kwargs) -> str | None:
        """Enqueue the job to run after ``delay`` seconds (or a timedelta); return its jid."""
        return self._push(self._build(args, kwargs, _run_at_from_delay(delay, self._job.name)))

    def perform_at(self, when: dt.datetime | float, *args: P.args, **kwargs: P.kwargs) -> str | None:
        """Enqueue the job to run at ``when``, a datetime or epoch seconds; return its jid."""
        return self._push(self._build(args, kwargs, _run_at_from_time(when, self._job.name)))

    def perform_bulk(
        self, arguments: Iterable[Iterable[Any]], *, at: dt.datetime | float | Iterable[Any] | None = None
    ) -> list[str | None]:
        """Enqueue one job per argument list, pipelined in slices of 1,000; return the jids.

        ``at`` is one run time for all jobs, or one per job (datetimes or
        epoch seconds). Keyword arguments are not supported in bulk. The jids
        line up with the argument lists, with None where a middleware stopped a job.
        """
        items = self._bulk_items(arguments, at)
        return self._push_items(items, bulk=True) if items else []

    async def aperform_async(self, *args: P.args, **kwargs: P.kwargs) -> str | None:
        """Async twin of :meth:`perform_async`.

        Pushes with the AsyncClient given with ``.set(client=...)``, else with
        the default one of the running event loop (see
        :func:`roadie.client.default_async_client`).
        """
        return await self._apush(self._build(args, kwargs, None))

    async def aperform_in(self, delay: float | dt.timedelta, *args: P.args, **kwargs: P.kwargs) -> str | None:
        """Async twin of :meth:`perform_in`."""
        return await self._apush(self._build(args, kwargs, _run_at_from_delay(delay, self._job.name)))

    async def aperform_at(self, when: dt.datetime | float, *args: P.args, **kwargs: P.kwargs) -> str | None:
        """Async twin of :meth:`perform_at`."""
        return await self._apush(self._build(args, kwargs, _run_at_from_time(when, self._job.name)))

    async def aperform_bulk(
        self, arguments: Iterable[Iterable[Any]], *, at: dt.datetime | float | Iterable[Any] | None = None
    ) -> list[str | None]:
        """Async twin of :meth:`perform_bulk`."""
        items = self._bulk_items(arguments, at)
        return await self._apush_items(items, bulk=True) if items else []

    def set(self, **options: Any) -> JobHandle[P, R]:
        """Return a handle with the same verbs and ``options`` applied to each enqueue.

        Options are the job options (queue, retry, ...) plus ``client``, a
        Client or AsyncClient to push with.
        """
        client = options.pop("client", None)
        merged = {**self._options, **_check_options(options, JobArgumentError, f"job {self._job.name!r}")}
        sync_client, async_client = self._client, self._async_client
        if isinstance(client, AsyncClient):
            async_client = client
        elif isinstance(client, Client):
            sync_client = client
        elif client is not None:
            raise JobArgumentError(f"job {self._job.name!r}: client must be a Client or AsyncClient, got {client!r}")
        return JobHandle(self._job, merged, sync_client, async_client)

    def _bulk_items(self, arguments: Iterable[Iterable[Any]], at: Any) -> list[dict[str, Any]]:
        if isinstance(arguments, (str, bytes, Mapping)):
            raise JobArgumentError(
                f"job {self._job.name!r}: perform_bulk takes an iterable of argument lists, such as [[1], [2]]"
            )
        all_args = []
        for index, args in enumerate(arguments):
            if isinstance(args, (str, bytes, Mapping)) or not isinstance(args, Iterable):
                raise JobArgumentError(
                    f"job {self._job.name!r}: perform_bulk item {index} must be a list of arguments, "
                    f"got {type(args).__name__}"
                )
            all_args.append(tuple(args))
        if at is None or isinstance(at, (int, float, dt.datetime)):
            times: list[Any] = [at] * len(all_args)
        else:
            times = list(at)
            if len(times) != len(all_args):
                raise JobArgumentError(
                    f"job {self._job.name!r}: perform_bulk got {len(times)} times for {len(all_args)} jobs"
                )
        items = []
        for index, (args, when) in enumerate(zip(all_args, times)):
            try:
                run_at = None if when is None else _run_at_from_time(when, self._job.name)
                items.append(self._build(args, {}, run_at))
            except JobArgumentError as exc:
                raise JobArgumentError(f"perform_bulk item {index}: {exc}") from None
        return items

    def _push(self, item: dict[str, Any]) -> str | None:
        return self._push_items([item], bulk=False)[0]

    async def _apush(self, item: dict[str, Any]) -> str | None:
        return (await self._apush_items([item], bulk=False))[0]

    def _push_items(self, items: list[dict[str, Any]], bulk: bool) -> list[str | None]:
        wrapper = _push_wrapper
        if wrapper is None:
            return self._push_now(items, bulk)
        return wrapper(items, lambda: self._push_now(items, bulk))

    def _push_now(self, items: list[dict[str, Any]], bulk: bool) -> list[str | None]:
        override = _push_override.get()
        if override is not None:
            return list(override.push(self._job, items, self._client))
        client = self._client_or_default()
        return client.push_many(items) if bulk else [client.push(items[0])]

    async def _apush_items(self, items: list[dict[str, Any]], bulk: bool) -> list[str | None]:
        override = _push_override.get()
        if override is not None:
            return list(await override.apush(self._job, items, self._async_client))
        client = self._async_client_or_default()
        return await client.push_many(items) if bulk else [await client.push(items[0])]


class JobFunction(_Enqueuer[P, R]):
    """A function registered as a job. Calling it runs the function in-process."""

    def __init__(self, fn: Callable[P, R], *, name: str | None = None, options: Mapping[str, Any] | None = None):
        if not callable(fn):
            raise JobDefinitionError(f"@job needs a function, got {fn!r}")
        self.fn = fn
        self.name = name or _default_name(fn)
        if not isinstance(self.name, str) or not self.name:
            raise JobDefinitionError(f"@job(name=...) must be a non-empty string, got {name!r}")
        self.options: dict[str, Any] = _check_options(options or {}, JobDefinitionError, f"@job {self.name!r}")
        self.is_async = inspect.iscoroutinefunction(fn)
        # Set with the retry_in and retries_exhausted decorators below.
        self.retry_in_hook: Callable[[int, BaseException, dict[str, Any]], Any] | None = None
        self.exhausted_hook: Callable[[dict[str, Any], BaseException], Any] | None = None
        self._job = self
        self._options = self.options
        self._client = None
        self._async_client = None
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    @functools.cached_property
    def _positional_range(self) -> tuple[int, float] | None:
        """The minimum and maximum count of positional arguments, when the count alone decides a call without keywords.

        None when a keyword-only parameter has no default, because then a
        call with positional arguments only never binds.
        """
        low, high = 0, 0.0
        for parameter in self.signature.parameters.values():
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                high = math.inf
            elif parameter.kind is inspect.Parameter.KEYWORD_ONLY:
                if parameter.default is inspect.Parameter.empty:
                    return None
            elif parameter.kind is not inspect.Parameter.VAR_KEYWORD:
                high += 1
                if parameter.default is inspect.Parameter.empty:
                    low += 1
        return low, high

    @property
    def queue(self) -> str:
        return self.options.get("queue", "default")

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Job hashes of this job captured by ``roadie.testing.fake()``, oldest first."""
        return list(self._testing_mode("jobs").jobs(self.name))

    def drain(self) -> int:
        """Run this job's captured jobs in order, and those they enqueue; return how many ran.

        Works inside ``roadie.testing.fake()`` only.
        """
        return int(self._testing_mode("drain()").drain(self))

    def clear(self) -> None:
        """Forget this job's captured jobs. Works inside ``roadie.testing.fake()`` only."""
        self._testing_mode("clear()").clear(self.name)

    def _testing_mode(self, member: str) -> Any:
        mode = _push_override.get()
        if mode is None:
            raise RuntimeError(
                f"job {self.name!r}: .{member} works only inside roadie.testing.fake(); "
                "enter it with `with roadie.testing.fake():` or the roadie_fake pytest fixture"
            )
        return mode

    def __repr__(self) -> str:
        return f"<roadie job {self.name!r}>"

    def retry_in(self, hook: Callable[[int, BaseException, dict[str, Any]], Any]) -> Callable[..., Any]:
        """Register ``hook(count, exception, job)`` to choose the delay before each retry.

        It returns seconds, ``"discard"`` (drop the job), ``"kill"`` (move it
        to the dead set now) or None for the default backoff. Use as a
        decorator: ``@send_mail.retry_in``.
        """
        self.retry_in_hook = hook
        return hook

    def retries_exhausted(self, hook: Callable[[dict[str, Any], BaseException], Any]) -> Callable[..., Any]:
        """Register ``hook(job, exception)``, called once the job has no retries left.

        Returning ``"discard"`` drops the job instead of moving it to the dead set.
        """
        self.exhausted_hook = hook
        return hook

    def check_binding(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """Raise JobArgumentError unless the arguments bind to the function's signature."""
        if not kwargs:
            # Counting the arguments is enough here, and much cheaper than bind().
            bounds = self._positional_range
            if bounds is not None and bounds[0] <= len(args) <= bounds[1]:
                return
        try:
            self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise JobArgumentError(f"job {self.name!r}: {exc}") from None

    def check_arguments(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        """Raise JobArgumentError unless the arguments bind to the signature and are JSON-native."""
        self.check_binding(args, kwargs)
        payload.check_json_native(list(args), "args")
        for key, value in kwargs.items():
            payload.check_json_native(value, f"kwargs[{key!r}]")


class JobHandle(_Enqueuer[P, R]):
    """A job with options set for the next enqueue, made by ``job.set(...)``."""

    def __init__(
        self,
        job_function: JobFunction[P, R],
        options: dict[str, Any],
        client: Client | None,
        async_client: AsyncClient | None,
    ) -> None:
        self._job = job_function
        self._options = options
        self._client = client
        self._async_client = async_client

    def __repr__(self) -> str:
        return f"<roadie job {self._job.name!r} with {self._options!r}>"


def _run_at_from_delay(delay: float | dt.timedelta, name: str) -> float:
    if isinstance(delay, dt.timedelta):
        seconds = delay.total_seconds()
    elif isinstance(delay, (int, float)) and not isinstance(delay, bool):
        seconds = float(delay)
    else:
        raise JobArgumentError(f"job {name!r}: perform_in takes seconds or a timedelta, got {delay!r}")
    if seconds >= _ABSOLUTE_TIME_THRESHOLD:
        return seconds
    return now() + seconds


def _run_at_from_time(when: Any, name: str) -> float:
    if isinstance(when, dt.datetime):
        return when.timestamp()
    if isinstance(when, (int, float)) and not isinstance(when, bool):
        return float(when)
    raise JobArgumentError(f"job {name!r}: expected a datetime or epoch seconds for the run time, got {when!r}")


@overload
def job(fn: Callable[P, R], /) -> JobFunction[P, R]: ...


@overload
def job(
    *,
    name: str | None = None,
    queue: str | None = None,
    retry: bool | int | None = None,
    backtrace: bool | int | None = None,
    tags: list[str] | None = None,
    retry_queue: str | None = None,
    retry_for: float | None = None,
    dead: bool | None = None,
) -> Callable[[Callable[P, R]], JobFunction[P, R]]: ...


def job(fn: Callable[..., Any] | None = None, /, *, name: str | None = None, **options: Any) -> Any:
    """Register a function as a job, bare (``@job``) or with options (``@job(queue="mailers")``).

    Options: ``name`` (the job name other languages enqueue by; default
    ``module.qualname``), ``queue``, ``retry`` (True, False or a count),
    ``backtrace``, ``tags``, ``retry_queue``, ``retry_for`` and ``dead``.
    """

    def decorate(function: Callable[..., Any]) -> JobFunction[Any, Any]:
        job_function: JobFunction[Any, Any] = JobFunction(function, name=name, options=options)
        _register(job_function)
        return job_function

    if fn is not None:
        return decorate(fn)
    return decorate

