"""Run a captured job hash in the current process, the way a worker would call it.

The job runs inside the process-wide server middleware chain, as in a
worker, with the arguments decoded from its JSON. A job that raises
:class:`~roadie.errors.Discard` counts as done. Every other exception
propagates to the caller, because no retry set exists in a test.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from roadie import middleware
from roadie.errors import Discard

__all__ = ["arun_job", "run_job"]


def run_job(job_function: Any, job: dict[str, Any]) -> None:
    """Run ``job`` with ``job_function`` and return when it has finished.

    An ``async def`` job runs on a new event loop: in this thread when none
    is running here, else in a helper thread that shares this thread's
    context variables, so the testing mode stays active for it.
    """
    try:
        if job_function.is_async:
            _run_coroutine(lambda: _invoke_async(job_function, job))
        else:
            _invoke_sync(job_function, job)
    except Discard:
        pass


async def arun_job(job_function: Any, job: dict[str, Any]) -> None:
    """Async twin of :func:`run_job`: awaits an ``async def`` job on the running loop.

    A sync job runs in this thread and blocks the loop until it returns.
    """
    try:
        if job_function.is_async:
            await _invoke_async(job_function, job)
        else:
            _invoke_sync(job_function, job)
    except Discard:
        pass


def _invoke_sync(job_function: Any, job: dict[str, Any]) -> Any:
    args, kwargs = job["args"], job.get("kwargs") or {}
    return middleware.server_middleware.invoke(
        (job_function, job, job.get("queue", "default")),
        lambda: job_function.fn(*args, **kwargs),
    )


async def _invoke_async(job_function: Any, job: dict[str, Any]) -> Any:
    args, kwargs = job["args"], job.get("kwargs") or {}
    return await middleware.server_middleware.invoke_async(
        (job_function, job, job.get("queue", "default")),
        lambda: job_function.fn(*args, **kwargs),
    )


def _run_coroutine(make_coroutine: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make_coroutine())

    # asyncio.run cannot start a loop in a thread whose loop is running.
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = context.run(lambda: asyncio.run(make_coroutine()))
        except BaseException as exc:  # noqa: BLE001 - handed back to the calling thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="roadie.testing.async-job")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
