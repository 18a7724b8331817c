"""Each retry option and hook, on a real in-process worker in burst mode."""

from __future__ import annotations

import base64
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import roadie
from roadie import middleware, payload

calls: list[tuple[str, Any]] = []


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot print")


@roadie.job(name="Options.Fail")
def fail(message: str) -> None:
    raise ValueError(message)


@roadie.job(name="Options.FailWith")
def fail_with(kind: str) -> None:
    if kind == "retry-in-300":
        raise roadie.Retry(in_=300)
    if kind == "discard":
        raise roadie.Discard("not needed any more")
    if kind == "non-utf8":
        raise ValueError("bad \udcff byte")
    if kind == "unprintable":
        raise Unprintable()
    if kind == "exit":
        raise SystemExit(3)
    if kind == "interrupt":
        raise KeyboardInterrupt()
    raise AssertionError(kind)


@roadie.job(name="Options.CustomDelay")
def custom_delay(answer: Any) -> None:
    raise ValueError(f"answer {answer}")


@custom_delay.retry_in
def _custom_delay_retry_in(count: int, exc: BaseException, job: dict[str, Any]) -> Any:
    calls.append(("retry_in", (count, type(exc).__name__, job["jid"])))
    return job["args"][0]


@roadie.job(name="Options.Exhausted", retry=0)
def exhausted(answer: str | None) -> None:
    raise ValueError("exhausted")


@exhausted.retries_exhausted
def _exhausted_hook(job: dict[str, Any], exc: BaseException) -> Any:
    calls.append(("retries_exhausted", (job["jid"], str(exc))))
    return job["args"][0]


@roadie.job(name="Options.Ok")
def ok(value: int) -> int:
    calls.append(("ok", value))
    return value


@roadie.job(name="Options.AsyncOk")
async def async_ok(value: int) -> int:
    calls.append(("async_ok", value))
    return value


@pytest.fixture
def client(redis_url: str) -> Iterator[roadie.Client]:
    calls.clear()
    with roadie.Client(redis_url) as client:
        yield client


def _retry_entries(redis_client) -> list[tuple[dict[str, Any], float]]:
    return [(orjson.loads(raw), score) for raw, score in redis_client.zrange("retry", 0, -1, withscores=True)]


def _dead_entries(redis_client) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in redis_client.zrange("dead", 0, -1)]


@pytest.mark.parametrize(
    ("options", "preset", "where", "retry_count"),
    [
        ({"retry": True}, {}, "retry", 0),
        ({"retry": False}, {}, "none", None),
        ({"retry": 0}, {}, "dead", 0),
        ({"retry": 3}, {"retry_count": 1}, "retry", 2),
        ({"retry": 3}, {"retry_count": 2}, "dead", 3),
        ({"retry_for": 3600}, {"retry_count": 30, "failed_at": time.time() - 60}, "retry", 31),
        ({"retry_for": 3600}, {"retry_count": 1, "failed_at": time.time() - 7200}, "dead", 2),
        ({"retry": 0, "dead": False}, {}, "none", None),
    ],
    ids=["true", "false", "zero", "three-left", "three-used", "retry-for-open", "retry-for-closed",
         "dead-false"],
)
def test_retry_option_outcome(client, run_burst, redis_client, options, preset, where, retry_count) -> None:
    client.push({"class": "Options.Fail", "args": ["boom"], **options, **preset})

    run_burst()

    retries = _retry_entries(redis_client)
    dead = _dead_entries(redis_client)
    assert len(retries) == (1 if where == "retry" else 0)
    assert len(dead) == (1 if where == "dead" else 0)
    if where != "none":
        job = (retries[0][0] if retries else dead[0])
        assert job["retry_count"] == retry_count
        assert job["error_class"] == "ValueError"
        assert job["error_message"] == "boom"


def test_retry_queue_is_used(client, run_burst, redis_client) -> None:
    roadie.jobs.get_job("Options.Fail").set(client=client, retry_queue="slow").perform_async("x")
    run_burst()
    ((job, _score),) = _retry_entries(redis_client)
    assert job["queue"] == "slow"


@pytest.mark.parametrize("backtrace", [True, 2])
def test_backtrace_decodes_with_and_without_newlines(client, run_burst, redis_client, backtrace) -> None:
    roadie.jobs.get_job("Options.Fail").set(client=client, backtrace=backtrace).perform_async("trace me")
    run_burst()
    ((job, _score),) = _retry_entries(redis_client)

    encoded = job["error_backtrace"]
    lines = orjson.loads(zlib.decompress(base64.b64decode(encoded)))
    wrapped = "\n".join(encoded[i:i + 60] for i in range(0, len(encoded), 60)) + "\n"
    assert payload.decode_backtrace(wrapped) == lines
    assert orjson.loads(zlib.decompress(base64.b64decode(wrapped))) == lines
    if backtrace is True:
        assert any("raise ValueError(message)" in line for line in lines)
        assert lines[-1].startswith("ValueError: trace me")
    else:
        assert len(lines) == 2


def test_retry_in_seconds_sets_score(client, run_burst, redis_client) -> None:
    jid = custom_delay.set(client=client).perform_async(120)
    before = time.time()
    run_burst()
    ((job, score),) = _retry_entries(redis_client)
    assert ("retry_in", (0, "ValueError", jid)) in calls
    assert before + 120 <= score <= time.time() + 120 + 10


@pytest.mark.parametrize(("answer", "where"), [("discard", "none"), ("kill", "dead"), (None, "retry")])
def test_retry_in_discard_kill_default(client, run_burst, redis_client, answer, where) -> None:
    custom_delay.set(client=client).perform_async(answer)
    run_burst()
    assert len(_retry_entries(redis_client)) == (1 if where == "retry" else 0)
    assert len(_dead_entries(redis_client)) == (1 if where == "dead" else 0)


@pytest.mark.parametrize(("answer", "dead_entries"), [(None, 1), ("discard", 0)])
def test_retries_exhausted_hook(client, run_burst, redis_client, answer, dead_entries) -> None:
    jid = exhausted.set(client=client).perform_async(answer)
    run_burst()
    assert ("retries_exhausted", (jid, "exhausted")) in calls
    assert len(_dead_entries(redis_client)) == dead_entries


def test_retry_exception_sets_delay(client, run_burst, redis_client) -> None:
    fail_with.set(client=client).perform_async("retry-in-300")
    before = time.time()
    run_burst()
    ((job, score),) = _retry_entries(redis_client)
    assert job["error_class"] == "roadie.errors.Retry"
    assert before + 300 <= score <= time.time() + 300


def test_discard_drops_and_calls_death_handlers(client, run_burst, redis_client) -> None:
    deaths: list[tuple[str, str]] = []
    handler = lambda job, exc: deaths.append((job["class"], type(exc).__name__))  # noqa: E731
    middleware.death_handlers.append(handler)
    try:
        fail_with.set(client=client).perform_async("discard")
        run_burst()
    finally:
        middleware.death_handlers.remove(handler)
    assert _retry_entries(redis_client) == []
    assert _dead_entries(redis_client) == []
    assert deaths == [("Options.FailWith", "Discard")]


def test_non_utf8_message_is_scrubbed(client, run_burst, redis_client) -> None:
    fail_with.set(client=client).perform_async("non-utf8")
    run_burst()
    ((job, _score),) = _retry_entries(redis_client)
    assert job["error_message"] == "bad ? byte"


def test_unprintable_exception_still_retries(client, run_burst, redis_client) -> None:
    fail_with.set(client=client).perform_async("unprintable")
    run_burst()
    ((job, _score),) = _retry_entries(redis_client)
    assert job["error_message"] == "!!! ERROR MESSAGE THREW AN ERROR !!!"
    assert job["error_class"].endswith("Unprintable")


@pytest.mark.parametrize(("kind", "error_class"), [("exit", "SystemExit"), ("interrupt", "KeyboardInterrupt")])
def test_base_exceptions_are_job_failures(client, run_burst, redis_client, kind, error_class) -> None:
    fail_with.set(client=client).perform_async(kind)
    ok.set(client=client).perform_async(1)
    run_burst()
    ((job, _score),) = _retry_entries(redis_client)
    assert job["error_class"] == error_class
    assert ("ok", 1) in calls


def test_error_handlers_get_every_failure(client, run_burst) -> None:
    seen: list[tuple[str, str]] = []

    def broken(exc: BaseException, context: dict[str, Any]) -> None:
        raise RuntimeError("handler bug")

    def recording(exc: BaseException, context: dict[str, Any]) -> None:
        seen.append((type(exc).__name__, context["job"]["class"]))

    middleware.error_handlers.extend([broken, recording])
    try:
        fail.set(client=client).perform_bulk([["a"], ["b"]])
        run_burst()
    finally:
        middleware.error_handlers.remove(broken)
        middleware.error_handlers.remove(recording)
    assert seen == [("ValueError", "Options.Fail")] * 2


def test_server_middleware_wraps_sync_and_async(client, run_burst) -> None:
    wrapped: list[tuple[str, str]] = []

    def sync_middleware(job_function, job, queue, call_next):  # type: ignore[no-untyped-def]
        wrapped.append(("sync-before", job["class"]))
        return call_next()

    async def async_middleware(job_function, job, queue, call_next):  # type: ignore[no-untyped-def]
        wrapped.append(("async-before", job["class"]))
        return await call_next()

    middleware.server_middleware.add(sync_middleware)
    try:
        ok.set(client=client).perform_async(1)
        async_ok.set(client=client).perform_async(2)
        run_burst()
    finally:
        middleware.server_middleware.remove(sync_middleware)
    assert ("sync-before", "Options.Ok") in wrapped
    assert ("sync-before", "Options.AsyncOk") in wrapped
    assert ("async_ok", 2) in calls

    middleware.server_middleware.add(async_middleware)
    try:
        async_ok.set(client=client).perform_async(3)
        run_burst()
    finally:
        middleware.server_middleware.remove(async_middleware)
    assert ("async-before", "Options.AsyncOk") in wrapped


def test_server_middleware_can_skip_job(client, run_burst, redis_client) -> None:
    def skip(job_function, job, queue, call_next):  # type: ignore[no-untyped-def]
        return None

    middleware.server_middleware.add(skip)
    try:
        ok.set(client=client).perform_async(5)
        run_burst()
    finally:
        middleware.server_middleware.remove(skip)
    assert ("ok", 5) not in calls
    assert redis_client.llen("queue:default") == 0


def test_lifecycle_events_fire_in_order(client, run_burst) -> None:
    fired: list[str] = []
    lock = threading.Lock()
    handlers = {}
    for event in middleware.LIFECYCLE_EVENTS:
        def handler(event: str = event) -> None:
            with lock:
                fired.append(event)
        handlers[event] = roadie.on(event)(handler)
    try:
        run_burst()
    finally:
        for event, handler in handlers.items():
            middleware.lifecycle_handlers[event].remove(handler)
    assert fired[0] == "startup"
    assert "heartbeat" in fired
    assert "beat" in fired
    assert fired.index("quiet") < fired.index("shutdown")
    assert fired[-1] == "shutdown"
