"""Tests for RoadieBackend: ``@task`` functions enqueued to roadie and run by a roadie worker.

The module runs on whichever tasks framework is installed: ``django.tasks``
on Django 6, the ``django_tasks`` backport on older versions.
test_django6.py runs it again under Django 6 when a Python 3.12 is found.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import redis

from roadie.client import default_client
from roadie.jobs import get_job

pytestmark = pytest.mark.usefixtures("django_app")

TASKS_PACKAGE = "django.tasks" if importlib.util.find_spec("django.tasks") else "django_tasks"

TASKS_MODULE = textwrap.dedent(
    f"""
    import asyncio
    import json

    import redis
    from {TASKS_PACKAGE} import task

    from roadie.client import default_settings


    def note(*values):
        connection = redis.Redis.from_url(default_settings().resolved_redis_url)
        try:
            connection.rpush("task-ran", json.dumps(values))
        finally:
            connection.close()


    @task()
    def add(a, b):
        note("add", a + b)
        return a + b


    @task(queue_name="mailers")
    def mail(address, *, subject):
        note("mail", address, subject)


    @task(takes_context=True)
    def with_context(context, label):
        note("context", label, context.attempt, context.task_result.id)


    @task()
    async def async_add(a, b):
        await asyncio.sleep(0)
        note("async_add", a + b)


    @task()
    def explode():
        raise ValueError("task failed")
    """
)


@pytest.fixture
def tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    (tmp_path / "roadie_test_tasks.py").write_text(TASKS_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("roadie_test_tasks", None)
    yield importlib.import_module("roadie_test_tasks")
    sys.modules.pop("roadie_test_tasks", None)


def queued(redis_client: redis.Redis, queue: str = "default") -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in reversed(redis_client.lrange(f"queue:{queue}", 0, -1))]


def task_notes(redis_client: redis.Redis) -> list[list[Any]]:
    return [json.loads(raw) for raw in redis_client.lrange("task-ran", 0, -1)]


def test_decorator_registers_job(tasks: ModuleType) -> None:
    job_function = get_job("roadie_test_tasks.add")

    assert job_function is not None
    assert job_function.is_async is False


def test_enqueue_pushes_roadie_job(tasks: ModuleType, redis_client: redis.Redis) -> None:
    result = tasks.add.enqueue(2, 3)

    [job] = queued(redis_client)
    assert job["class"] == "roadie_test_tasks.add"
    assert job["args"] == [2, 3]
    assert job["jid"] == result.id
    assert result.status == "READY"


def test_queue_name_and_kwargs(tasks: ModuleType, redis_client: redis.Redis) -> None:
    tasks.mail.enqueue("a@example.com", subject="hi")

    [job] = queued(redis_client, "mailers")
    assert job["args"] == ["a@example.com"]
    assert job["kwargs"] == {"subject": "hi"}


def test_using_queue_name(tasks: ModuleType, redis_client: redis.Redis) -> None:
    tasks.add.using(queue_name="bulk").enqueue(1, 1)

    assert redis_client.llen("queue:bulk") == 1


def test_run_after_schedules(tasks: ModuleType, redis_client: redis.Redis) -> None:
    when = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)

    tasks.add.using(run_after=when).enqueue(1, 1)

    [(_, score)] = redis_client.zrange("schedule", 0, -1, withscores=True)
    assert score == when.timestamp()


def test_priority_rejected(tasks: ModuleType) -> None:
    exceptions = importlib.import_module(f"{TASKS_PACKAGE}.exceptions")
    # Django 6 calls it InvalidTask; the backport, InvalidTaskError.
    invalid_task = getattr(exceptions, "InvalidTask", None) or exceptions.InvalidTaskError

    with pytest.raises(invalid_task, match="priority"):
        tasks.add.using(priority=10)


def test_bad_arguments_rejected(tasks: ModuleType) -> None:
    with pytest.raises(TypeError):
        tasks.add.enqueue(1)


def test_worker_runs_tasks(tasks: ModuleType, redis_client: redis.Redis,
                           burst_worker: Callable[..., None]) -> None:
    tasks.add.enqueue(2, 3)
    tasks.async_add.enqueue(4, 5)
    tasks.mail.enqueue("a@example.com", subject="hi")

    burst_worker(default_client().settings.replace(queues=["default", "mailers"]))

    assert sorted(task_notes(redis_client)) == [["add", 5], ["async_add", 9], ["mail", "a@example.com", "hi"]]


def test_context_has_attempt_and_id(tasks: ModuleType, redis_client: redis.Redis,
                                    burst_worker: Callable[..., None]) -> None:
    result = tasks.with_context.enqueue("first")

    burst_worker(default_client().settings)

    assert task_notes(redis_client) == [["context", "first", 1, result.id]]


def test_failed_task_goes_to_retry(tasks: ModuleType, redis_client: redis.Redis,
                                   burst_worker: Callable[..., None]) -> None:
    tasks.explode.enqueue()

    burst_worker(default_client().settings)

    [raw] = redis_client.zrange("retry", 0, -1)
    assert json.loads(raw)["error_class"] == "ValueError"


def test_enqueue_in_transaction_deferred(tasks: ModuleType, redis_client: redis.Redis) -> None:
    from django.db import transaction

    with transaction.atomic():
        result = tasks.add.enqueue(1, 2)
        assert redis_client.llen("queue:default") == 0

    assert [job["jid"] for job in queued(redis_client)] == [result.id]


def test_get_result_unsupported(tasks: ModuleType) -> None:
    result = tasks.add.enqueue(1, 2)

    with pytest.raises(NotImplementedError):
        tasks.add.get_result(result.id)
