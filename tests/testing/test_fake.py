"""Tests for roadie.testing.fake(): captured job hashes, drain, clear, and the scope's forms."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
import redis

import roadie
import roadie.testing
from roadie.errors import Discard, JobArgumentError, UnknownJobError
from roadie.middleware import client_middleware, server_middleware

calls: list[tuple[str, Any]] = []


@roadie.job(name="fake.Record", queue="records")
def record(value: Any) -> None:
    calls.append(("record", value))


@roadie.job(name="fake.Countdown")
def countdown(remaining: int) -> None:
    calls.append(("countdown", remaining))
    if remaining > 0:
        countdown.perform_async(remaining - 1)
        record.perform_async(f"from countdown {remaining}")


@roadie.job(name="fake.Fails")
def fails(message: str) -> None:
    calls.append(("fails", message))
    raise ValueError(message)


@roadie.job(name="fake.Discarded")
def discarded() -> None:
    calls.append(("discarded", None))
    raise Discard()


@roadie.job(name="fake.AsyncRecord")
async def async_record(value: Any) -> None:
    await asyncio.sleep(0)
    calls.append(("async_record", value))


@pytest.fixture(autouse=True)
def empty_calls() -> None:
    calls.clear()


# ------------------------------------------------------------------ capturing


def test_fake_captures_wire_format() -> None:
    with roadie.testing.fake():
        jid = record.perform_async({"id": 7})
        [job] = record.jobs

    assert job["jid"] == jid
    assert job["class"] == "fake.Record"
    assert job["args"] == [{"id": 7}]
    assert job["queue"] == "records"
    assert job["retry"] is True
    assert isinstance(job["enqueued_at"], float)
    assert calls == []


def test_fake_keeps_enqueue_order() -> None:
    with roadie.testing.fake():
        record.perform_async(1)
        countdown.perform_async(0)
        record.perform_async(2)

        assert [job["args"] for job in record.jobs] == [[1], [2]]
        assert [job["class"] for job in roadie.testing.jobs()] == ["fake.Record", "fake.Countdown", "fake.Record"]


def test_jobs_filtered_by_queue() -> None:
    with roadie.testing.fake():
        record.perform_async(1)
        countdown.perform_async(0)

        assert [job["class"] for job in roadie.testing.jobs(queue="records")] == ["fake.Record"]
        assert [job["class"] for job in roadie.testing.jobs(queue="default")] == ["fake.Countdown"]


def test_scheduled_job_keeps_run_time() -> None:
    when = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)
    with roadie.testing.fake():
        record.perform_at(when, "later")
        [job] = record.jobs

    assert job["at"] == when.timestamp()
    assert "enqueued_at" not in job


def test_perform_bulk_captures_each() -> None:
    with roadie.testing.fake():
        jids = record.perform_bulk([[1], [2], [3]])

        assert [job["jid"] for job in record.jobs] == jids


def test_set_options_reach_hash() -> None:
    with roadie.testing.fake():
        record.set(queue="urgent", retry=3).perform_async(1)
        [job] = record.jobs

    assert job["queue"] == "urgent"
    assert job["retry"] == 3


def test_client_middleware_runs_in_fake() -> None:
    def tag(job: dict[str, Any], queue: str, call_next: Any) -> Any:
        job["tagged_by"] = "middleware"
        return call_next()

    client_middleware.add(tag)
    try:
        with roadie.testing.fake():
            record.perform_async(1)
            [job] = record.jobs
    finally:
        client_middleware.remove(tag)

    assert job["tagged_by"] == "middleware"


def test_middleware_stop_captures_nothing() -> None:
    def stop(job: dict[str, Any], queue: str, call_next: Any) -> None:
        return None

    client_middleware.add(stop)
    try:
        with roadie.testing.fake():
            jid = record.perform_async(1)
            captured = record.jobs
    finally:
        client_middleware.remove(stop)

    assert jid is None
    assert captured == []


def test_middleware_added_value_is_checked() -> None:
    def add_datetime(job: dict[str, Any], queue: str, call_next: Any) -> Any:
        job["stamp"] = dt.datetime(2024, 1, 1)
        return call_next()

    client_middleware.add(add_datetime)
    try:
        with roadie.testing.fake(), pytest.raises(JobArgumentError, match=r"job\['stamp'\]: datetime"):
            record.perform_async(1)
    finally:
        client_middleware.remove(add_datetime)


def test_invalid_arguments_rejected_in_fake() -> None:
    with roadie.testing.fake(), pytest.raises(JobArgumentError):
        record.perform_async({"when": dt.date(2024, 1, 1)})


def test_async_verbs_capture() -> None:
    async def enqueue() -> list[str | None]:
        first = await record.aperform_async(1)
        rest = await record.aperform_bulk([[2], [3]])
        return [first, *rest]

    with roadie.testing.fake():
        jids = asyncio.run(enqueue())

        assert [job["jid"] for job in record.jobs] == jids
        assert [job["args"] for job in record.jobs] == [[1], [2], [3]]


# ----------------------------------------------------------------- draining


def test_drain_runs_in_order() -> None:
    with roadie.testing.fake():
        record.perform_async("a")
        record.perform_async("b")

        ran = record.drain()

        assert ran == 2
        assert record.jobs == []
    assert calls == [("record", "a"), ("record", "b")]


def test_drain_includes_jobs_enqueued_meanwhile() -> None:
    with roadie.testing.fake():
        countdown.perform_async(2)

        ran = countdown.drain()

        assert ran == 3
        assert [job["args"] for job in record.jobs] == [["from countdown 2"], ["from countdown 1"]]
    assert calls == [("countdown", 2), ("countdown", 1), ("countdown", 0)]


def test_drain_leaves_other_jobs() -> None:
    with roadie.testing.fake():
        record.perform_async(1)
        countdown.perform_async(0)

        countdown.drain()

        assert [job["args"] for job in record.jobs] == [[1]]


def test_drain_passes_decoded_kwargs() -> None:
    received: list[dict[str, Any]] = []

    @roadie.job(name="fake.Keywords")
    def keywords(*, options: dict[str, Any]) -> None:
        received.append(options)

    options = {"depth": 1}
    with roadie.testing.fake():
        keywords.perform_async(options=options)
        options["depth"] = 2
        keywords.drain()

    assert received == [{"depth": 1}]


def test_drain_raises_job_error() -> None:
    with roadie.testing.fake():
        fails.perform_async("first")
        fails.perform_async("second")

        with pytest.raises(ValueError, match="first"):
            fails.drain()

        assert [job["args"] for job in fails.jobs] == [["second"]]


def test_drain_treats_discard_as_done() -> None:
    with roadie.testing.fake():
        discarded.perform_async()

        assert discarded.drain() == 1
    assert calls == [("discarded", None)]


def test_drain_runs_async_job() -> None:
    with roadie.testing.fake():
        async_record.perform_async("x")

        async_record.drain()
    assert calls == [("async_record", "x")]


def test_drain_async_job_inside_loop() -> None:
    async def enqueue_and_drain() -> None:
        await async_record.aperform_async("y")
        async_record.drain()

    with roadie.testing.fake():
        asyncio.run(enqueue_and_drain())
    assert calls == [("async_record", "y")]


def test_drain_uses_server_middleware() -> None:
    seen: list[tuple[str, str]] = []

    def observe(job_function: Any, job: dict[str, Any], queue: str, call_next: Any) -> Any:
        seen.append((job_function.name, queue))
        return call_next()

    server_middleware.add(observe)
    try:
        with roadie.testing.fake():
            record.perform_async(1)
            record.drain()
    finally:
        server_middleware.remove(observe)

    assert seen == [("fake.Record", "records")]


def test_drain_all_runs_everything() -> None:
    with roadie.testing.fake():
        countdown.perform_async(1)
        record.perform_async("direct")

        ran = roadie.testing.drain_all()

        assert ran == 4
        assert roadie.testing.jobs() == []
    assert calls == [
        ("countdown", 1),
        ("record", "direct"),
        ("countdown", 0),
        ("record", "from countdown 1"),
    ]


def test_drain_all_unknown_job_raises() -> None:
    with roadie.testing.fake():
        record.perform_async(1)
        roadie.testing.jobs()[0]["class"] = "fake.NotRegistered"

        with pytest.raises(UnknownJobError, match="fake.NotRegistered"):
            roadie.testing.drain_all()


# ----------------------------------------------------------------- clearing


def test_job_clear_keeps_others() -> None:
    with roadie.testing.fake():
        record.perform_async(1)
        countdown.perform_async(0)

        record.clear()

        assert record.jobs == []
        assert len(countdown.jobs) == 1


def test_clear_forgets_everything() -> None:
    with roadie.testing.fake():
        record.perform_async(1)
        countdown.perform_async(0)

        roadie.testing.clear()

        assert roadie.testing.jobs() == []


# -------------------------------------------------------------------- scopes


def test_jobs_outside_fake_raises() -> None:
    with pytest.raises(RuntimeError, match="roadie.testing.fake"):
        record.jobs  # noqa: B018 - the property read is the test


def test_module_jobs_outside_fake_raises() -> None:
    with pytest.raises(RuntimeError, match="no testing mode is active"):
        roadie.testing.jobs()


def test_each_block_starts_empty() -> None:
    scope = roadie.testing.fake()
    with scope:
        record.perform_async(1)
    with scope:
        assert record.jobs == []


def test_nested_fake_restores_outer() -> None:
    with roadie.testing.fake():
        record.perform_async("outer")
        with roadie.testing.fake():
            record.perform_async("inner")
            assert [job["args"] for job in record.jobs] == [["inner"]]

        assert [job["args"] for job in record.jobs] == [["outer"]]


def test_fake_as_decorator() -> None:
    @roadie.testing.fake()
    def enqueue_twice() -> int:
        record.perform_async(1)
        record.perform_async(2)
        return len(record.jobs)

    assert enqueue_twice() == 2
    assert enqueue_twice() == 2


def test_fake_decorates_coroutine_function() -> None:
    @roadie.testing.fake()
    async def enqueue() -> int:
        await record.aperform_async(1)
        return len(record.jobs)

    assert asyncio.run(enqueue()) == 1
    with pytest.raises(RuntimeError):
        record.jobs  # noqa: B018 - the mode ended with the call


def test_fake_binds_mode_object() -> None:
    with roadie.testing.fake() as mode:
        record.perform_async(1)

        assert isinstance(mode, roadie.testing.FakeMode)
        assert [job["class"] for job in mode.jobs()] == ["fake.Record"]


def test_disable_pushes_to_redis(default_on_server: str, redis_client: redis.Redis) -> None:
    with roadie.testing.fake():
        with roadie.testing.disable():
            record.perform_async("real")
        record.perform_async("captured")

        assert [job["args"] for job in record.jobs] == [["captured"]]
    assert redis_client.llen("queue:records") == 1
