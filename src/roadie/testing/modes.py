"""The fake and inline testing modes, and the scope that switches them on.

A mode is active in one context: the thread or asyncio task that entered it,
and tasks that task creates afterwards. Threads started inside the scope do
not inherit it, as threads in Python start with an empty context; run their
code with ``contextvars.copy_context().run`` to carry the mode along.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from contextvars import Token
from typing import Any, TypeVar

from roadie import jobs as jobs_module
from roadie.client import AsyncClient, Client
from roadie.errors import UnknownJobError
from roadie.testing.capture import capture, capture_async, jids_of
from roadie.testing.runner import arun_job, run_job

__all__ = ["FakeMode", "InlineMode", "ModeScope", "active_fake"]

F = TypeVar("F", bound=Callable[..., Any])


class FakeMode:
    """Keeps enqueued jobs in memory, in enqueue order, until a test drains or clears them."""

    name = "fake"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: list[dict[str, Any]] = []

    def __repr__(self) -> str:
        return f"<roadie.testing fake mode with {len(self._jobs)} jobs>"

    # -------------------------------------------------- called by roadie.jobs

    def push(self, job_function: Any, items: list[dict[str, Any]], client: Client | None) -> list[str | None]:
        captured = capture(client, items)
        self._keep(captured)
        return jids_of(captured)

    async def apush(
        self, job_function: Any, items: list[dict[str, Any]], client: AsyncClient | None
    ) -> list[str | None]:
        captured = await capture_async(client, items)
        self._keep(captured)
        return jids_of(captured)

    # ----------------------------------------------------------------- reading

    def jobs(self, name: str | None = None, *, queue: str | None = None) -> list[dict[str, Any]]:
        """Return the captured job hashes, oldest first: all, or those of job ``name`` and/or ``queue``."""
        with self._lock:
            return [
                job for job in self._jobs
                if (name is None or job["class"] == name) and (queue is None or job["queue"] == queue)
            ]

    def clear(self, name: str | None = None) -> None:
        """Forget the captured jobs: all, or those of job ``name``."""
        with self._lock:
            self._jobs = [job for job in self._jobs if name is not None and job["class"] != name]

    # ----------------------------------------------------------------- running

    def drain(self, job_function: Any) -> int:
        """Run the captured jobs of ``job_function`` oldest first, until none is left; return how many ran.

        Jobs it enqueues meanwhile are captured and, if of the same job, run
        too. A job that raises is already removed; the rest stay captured.
        """
        count = 0
        while (job := self._take_first(job_function.name)) is not None:
            run_job(job_function, job)
            count += 1
        return count

    def drain_all(self) -> int:
        """Run every captured job, oldest first, until none is left; return how many ran.

        Raises UnknownJobError for a job whose name is not registered.
        """
        count = 0
        while (job := self._take_first(None)) is not None:
            job_function = jobs_module.get_job(job["class"])
            if job_function is None:
                raise UnknownJobError(
                    f"cannot run captured job {job['jid']}: no job named {job['class']!r} is registered; "
                    "import the module that defines it"
                )
            run_job(job_function, job)
            count += 1
        return count

    def _keep(self, captured: list[dict[str, Any] | None]) -> None:
        with self._lock:
            self._jobs.extend(job for job in captured if job is not None)

    def _take_first(self, name: str | None) -> dict[str, Any] | None:
        with self._lock:
            for index, job in enumerate(self._jobs):
                if name is None or job["class"] == name:
                    return self._jobs.pop(index)
        return None


class InlineMode:
    """Runs each job in the enqueuing thread at enqueue time, after the same checks a push makes."""

    name = "inline"

    def __repr__(self) -> str:
        return "<roadie.testing inline mode>"

    def push(self, job_function: Any, items: list[dict[str, Any]], client: Client | None) -> list[str | None]:
        captured = capture(client, items)
        for job in captured:
            if job is not None:
                run_job(job_function, job)
        return jids_of(captured)

    async def apush(
        self, job_function: Any, items: list[dict[str, Any]], client: AsyncClient | None
    ) -> list[str | None]:
        captured = await capture_async(client, items)
        for job in captured:
            if job is not None:
                await arun_job(job_function, job)
        return jids_of(captured)

    def jobs(self, name: str | None = None, *, queue: str | None = None) -> list[dict[str, Any]]:
        raise _fake_only("jobs")

    def clear(self, name: str | None = None) -> None:
        raise _fake_only("clear()")

    def drain(self, job_function: Any) -> int:
        raise _fake_only("drain()")


def _fake_only(member: str) -> RuntimeError:
    return RuntimeError(f".{member} works only in fake mode; inline mode runs each job when it is enqueued")


class ModeScope:
    """Switches a testing mode on for a ``with`` block or for each call of a decorated function.

    Each entry makes a new mode object from ``factory`` (None switches every
    mode off), so captured jobs never leak from one block or call to the next.
    """

    def __init__(self, factory: Callable[[], FakeMode | InlineMode | None]) -> None:
        self._factory = factory
        self._tokens: list[Token[Any]] = []

    def __enter__(self) -> Any:
        mode = self._factory()
        self._tokens.append(jobs_module._push_override.set(mode))
        return mode

    def __exit__(self, *exc_info: object) -> None:
        token = self._tokens.pop()
        try:
            jobs_module._push_override.reset(token)
        except ValueError:
            # The scope was left in another context than it was entered in,
            # as async fixtures may do; restore the previous mode by value.
            previous = token.old_value
            jobs_module._push_override.set(None if previous is Token.MISSING else previous)

    def __call__(self, function: F) -> F:
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with ModeScope(self._factory):
                    return await function(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with ModeScope(self._factory):
                return function(*args, **kwargs)

        return run  # type: ignore[return-value]


def active_fake() -> FakeMode:
    """Return the fake mode active in this context, or raise RuntimeError saying how to enter one."""
    mode = jobs_module._push_override.get()
    if isinstance(mode, FakeMode):
        return mode
    state = "inline mode is active" if isinstance(mode, InlineMode) else "no testing mode is active"
    raise RuntimeError(
        f"captured jobs exist only inside roadie.testing.fake(), but {state}; "
        "enter it with `with roadie.testing.fake():` or the roadie_fake pytest fixture"
    )
