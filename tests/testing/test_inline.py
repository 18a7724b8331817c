"""Tests for roadie.testing.inline(): jobs run at enqueue time, after a JSON round trip."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

import pytest

import roadie
import roadie.testing
from roadie.errors import Discard, Retry
from roadie.middleware import client_middleware, server_middleware

calls: list[tuple[str, Any]] = []


class Color(str, enum.Enum):
    RED = "red"


@roadie.job(name="inline.Record")
def record(value: Any, *, note: str = "") -> str:
    calls.append(("record", value, note))
    return "returned"


@roadie.job(name="inline.Chain")
def chain(depth: int) -> None:
    calls.append(("chain", depth))
    if depth > 0:
        chain.perform_async(depth - 1)


@roadie.job(name="inline.Fails")
def fails(message: str) -> None:
    raise ValueError(message)


@roadie.job(name="inline.Discarded")
def discarded() -> None:
    calls.append(("discarded",))
    raise Discard()


@roadie.job(name="inline.Retries")
def retries() -> None:
    raise Retry(in_=10)


@roadie.job(name="inline.AsyncRecord")
async def async_record(value: Any) -> None:
    await asyncio.sleep(0)
    calls.append(("async_record", value))


@pytest.fixture(autouse=True)
def empty_calls() -> None:
    calls.clear()


def test_inline_runs_at_enqueue() -> None:
    with roadie.testing.inline():
        jid = record.perform_async(1, note="now")

        assert calls == [("record", 1, "now")]
    assert isinstance(jid, str)
    assert len(jid) == 24


def test_inline_args_round_trip_json() -> None:
    with roadie.testing.inline():
        record.perform_async(Color.RED)

    [(_, value, _)] = calls
    assert value == "red"
    assert type(value) is str


def test_inline_runs_scheduled_jobs_now() -> None:
    with roadie.testing.inline():
        record.perform_in(3600, "later")

    assert calls == [("record", "later", "")]


def test_inline_runs_bulk_in_order() -> None:
    with roadie.testing.inline():
        jids = record.perform_bulk([[1], [2]])

    assert [call[1] for call in calls] == [1, 2]
    assert len(set(jids)) == 2


def test_inline_runs_nested_enqueues() -> None:
    with roadie.testing.inline():
        chain.perform_async(2)

    assert calls == [("chain", 2), ("chain", 1), ("chain", 0)]


def test_inline_propagates_job_error() -> None:
    with roadie.testing.inline(), pytest.raises(ValueError, match="broken"):
        fails.perform_async("broken")


def test_inline_propagates_retry() -> None:
    with roadie.testing.inline(), pytest.raises(Retry):
        retries.perform_async()


def test_inline_treats_discard_as_done() -> None:
    with roadie.testing.inline():
        jid = discarded.perform_async()

    assert calls == [("discarded",)]
    assert jid is not None


def test_inline_middleware_stop_skips_run() -> None:
    def stop(job: dict[str, Any], queue: str, call_next: Any) -> None:
        return None

    client_middleware.add(stop)
    try:
        with roadie.testing.inline():
            jid = record.perform_async(1)
    finally:
        client_middleware.remove(stop)

    assert jid is None
    assert calls == []


def test_inline_uses_server_middleware() -> None:
    def wrap(job_function: Any, job: dict[str, Any], queue: str, call_next: Any) -> Any:
        calls.append(("before", job["jid"]))
        result = call_next()
        calls.append(("after", job["jid"]))
        return result

    server_middleware.add(wrap)
    try:
        with roadie.testing.inline():
            jid = record.perform_async(1)
    finally:
        server_middleware.remove(wrap)

    assert calls == [("before", jid), ("record", 1, ""), ("after", jid)]


def test_inline_async_job_from_sync() -> None:
    with roadie.testing.inline():
        async_record.perform_async("sync caller")

    assert calls == [("async_record", "sync caller")]


def test_inline_async_job_from_async() -> None:
    async def enqueue() -> None:
        await async_record.aperform_async("awaited")
        await record.aperform_async("sync job")

    with roadie.testing.inline():
        asyncio.run(enqueue())

    assert calls == [("async_record", "awaited"), ("record", "sync job", "")]


def test_inline_sync_verb_inside_loop() -> None:
    async def enqueue() -> None:
        async_record.perform_async("inside loop")

    with roadie.testing.inline():
        asyncio.run(enqueue())

    assert calls == [("async_record", "inside loop")]


def test_inline_jobs_property_raises() -> None:
    with roadie.testing.inline(), pytest.raises(RuntimeError, match="only in fake mode"):
        record.jobs  # noqa: B018 - the property read is the test


def test_inline_as_decorator() -> None:
    @roadie.testing.inline()
    def signup() -> None:
        record.perform_async("decorated")

    signup()

    assert calls == [("record", "decorated", "")]
