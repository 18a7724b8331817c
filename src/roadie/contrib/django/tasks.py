"""A backend for Django's tasks framework that runs ``@task`` functions as roadie jobs.

::

    # settings.py
    TASKS = {"default": {"BACKEND": "roadie.contrib.django.tasks.RoadieBackend", "QUEUES": []}}

    # myapp/tasks.py
    from django.tasks import task      # django_tasks, the backport, before Django 6

    @task(queue_name="mailers")
    def send_welcome(user_id): ...

    send_welcome.enqueue(42)           # a roadie job named "myapp.tasks.send_welcome"

Each task becomes a roadie job named after its dotted path, registered when
the ``@task`` decorator runs, so a worker can run it once ``manage.py roadie
worker`` has imported the app's ``tasks`` module (the Django app does that
when this backend is configured). ``enqueue`` returns a TaskResult whose
``id`` is the job's jid, and follows ``defer_until_commit`` like
``perform_async``. Supported: ``queue_name``, ``run_after``, async
functions and ``takes_context``. Not supported: ``priority`` (roadie has
none) and ``get_result`` (roadie keeps no results); failures are retried by
roadie's retry rules, as for any job.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import inspect
import os
import socket
import traceback
from collections.abc import Callable
from typing import Any

from django.conf import settings as django_settings
from django.utils import timezone

from roadie import jobs as jobs_module
from roadie.jobs import JobFunction
from roadie.middleware import server_middleware

try:  # Django 6 ships the framework as django.tasks; older versions use the backport.
    from django.tasks import TaskContext, TaskResult, TaskResultStatus
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import TaskError
    from django.tasks.signals import task_enqueued, task_finished, task_started
except ImportError:
    from django_tasks import TaskContext, TaskResult, TaskResultStatus
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import TaskError
    from django_tasks.signals import task_enqueued, task_finished, task_started

__all__ = ["RoadieBackend", "job_for"]

# The job hash of the task running in this thread or asyncio task.
_current_job: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "roadie_django_task_job", default=None
)


class RoadieBackend(BaseTaskBackend):
    """Enqueues tasks to roadie; roadie workers run them."""

    supports_defer = True
    supports_async_task = True
    supports_get_result = False
    supports_priority = False

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        server_middleware.add(remember_job)

    def validate_task(self, task: Any) -> None:
        """Check the task as the base backend does, then register its roadie job."""
        super().validate_task(task)
        job_for(task)

    def enqueue(self, task: Any, args: Any, kwargs: Any) -> Any:
        """Enqueue ``task`` as a roadie job on its ``queue_name``; return a READY TaskResult with the jid as id."""
        self.validate_task(task)
        handle = job_for(task).set(queue=task.queue_name)
        if task.run_after is None:
            jid = handle.perform_async(*args, **kwargs)
        else:
            jid = handle.perform_at(task.run_after, *args, **kwargs)
        result = TaskResult(
            task=task, id=jid or "", status=TaskResultStatus.READY, enqueued_at=timezone.now(),
            started_at=None, last_attempted_at=None, finished_at=None, args=list(args), kwargs=dict(kwargs),
            backend=self.alias, errors=[], worker_ids=[],
        )
        task_enqueued.send(type(self), task_result=result)
        return result


def job_for(task: Any) -> JobFunction[Any, Any]:
    """Return the roadie job that runs ``task``, registering it under the task's dotted path on first use."""
    name = task.module_path
    existing = jobs_module.get_job(name)
    if existing is not None and getattr(existing.fn, "_roadie_task_function", None) is task.func:
        return existing
    return jobs_module.job(name=name)(_runner(task))


def remember_job(job_function: Any, job: dict[str, Any], queue: str, call_next: Any) -> Any:
    """Server middleware that makes the running job's hash available to the task runner."""
    if job_function is not None and job_function.is_async:
        return _remember_async(job, call_next)
    token = _current_job.set(job)
    try:
        return call_next()
    finally:
        _current_job.reset(token)


async def _remember_async(job: dict[str, Any], call_next: Any) -> Any:
    token = _current_job.set(job)
    try:
        return await call_next()
    finally:
        _current_job.reset(token)


def _runner(task: Any) -> Callable[..., Any]:
    function = task.func
    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            result = _started(task, args, kwargs)
            try:
                value = await (function(TaskContext(task_result=result), *args, **kwargs) if task.takes_context
                               else function(*args, **kwargs))
            except BaseException as exc:
                _finished(result, exc)
                raise
            _finished(result, None)
            return value

        runner: Callable[..., Any] = run_async
    else:

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            result = _started(task, args, kwargs)
            try:
                value = (function(TaskContext(task_result=result), *args, **kwargs) if task.takes_context
                         else function(*args, **kwargs))
            except BaseException as exc:
                _finished(result, exc)
                raise
            _finished(result, None)
            return value

        runner = run

    signature = inspect.signature(function)
    if task.takes_context:
        # Callers enqueue without the context argument, which the runner adds.
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    runner.__signature__ = signature  # type: ignore[attr-defined]
    runner._roadie_task_function = function  # type: ignore[attr-defined]
    return runner


def _started(task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    job = _current_job.get() or {}
    # Sidekiq's retry_count is absent on the first run and 0 on the first retry.
    attempt = int(job.get("retry_count", -1)) + 2
    started = timezone.now()
    result = TaskResult(
        task=task, id=job.get("jid", ""), status=TaskResultStatus.RUNNING,
        enqueued_at=_from_epoch(job.get("enqueued_at")), started_at=started, last_attempted_at=started,
        finished_at=None, args=list(args), kwargs=dict(kwargs), backend=task.backend, errors=[],
        # NOTE: roadie does not record which process ran earlier attempts, so
        # their entries are empty; the list's length is the attempt number.
        worker_ids=[""] * (attempt - 1) + [f"{socket.gethostname()}:{os.getpid()}"],
    )
    task_started.send(RoadieBackend, task_result=result)
    return result


def _finished(result: Any, error: BaseException | None) -> None:
    object.__setattr__(result, "finished_at", timezone.now())
    if error is None:
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
    else:
        object.__setattr__(result, "status", TaskResultStatus.FAILED)
        error_type = type(error)
        result.errors.append(TaskError(
            exception_class_path=f"{error_type.__module__}.{error_type.__qualname__}",
            traceback="".join(traceback.format_exception(error)),
        ))
    task_finished.send(RoadieBackend, task_result=result)


def _from_epoch(value: Any) -> dt.datetime | None:
    if not isinstance(value, (int, float)):
        return None
    # Sidekiq 8 writes milliseconds; roadie and older Sidekiq write seconds.
    seconds = value / 1000 if value > 1e11 else float(value)
    moment = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    return moment if django_settings.USE_TZ else timezone.make_naive(moment)
