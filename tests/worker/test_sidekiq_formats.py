"""Payloads as Sidekiq 7 and 8 and Rails' ActiveJob write them, run by a roadie worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

import roadie
from roadie import activejob

received: list[tuple[Any, ...]] = []


@roadie.job(name="SendReceiptJob")
def send_receipt(order_id: int, order: str, options: dict[str, Any], locale: str = "en") -> None:
    received.append((order_id, order, options, locale))


@roadie.job(name="Sidekiq8Job")
def sidekiq8_job(value: Any) -> None:
    if value == "fail":
        raise RuntimeError("failed on purpose")
    received.append((value,))


def _activejob_payload(wrapper: str) -> dict[str, Any]:
    """An ActiveJob payload shaped like one Rails 7.1 writes through Sidekiq 8."""
    return {
        "class": wrapper,
        "wrapped": "SendReceiptJob",
        "queue": "default",
        "retry": True,
        "jid": "0123456789abcdef01234567",
        "created_at": int(time.time() * 1000),
        "enqueued_at": int(time.time() * 1000),
        "args": [{
            "job_class": "SendReceiptJob",
            "job_id": "3f1b2c3d-0000-4000-8000-000000000001",
            "provider_job_id": None,
            "queue_name": "default",
            "priority": None,
            "arguments": [
                42,
                {"_aj_globalid": "gid://shop/Order/7"},
                {"at": {"_aj_serialized": "ActiveJob::Serializers::TimeWithZoneSerializer",
                        "value": "2026-12-04T10:00:00.000000000Z", "time_zone": "UTC"},
                 "mode": {"_aj_serialized": "ActiveJob::Serializers::SymbolSerializer", "value": "express"},
                 "_aj_symbol_keys": ["at", "mode"]},
                {"locale": "de", "_aj_ruby2_keywords": ["locale"]},
            ],
            "executions": 0,
            "exception_executions": {},
            "locale": "en",
            "timezone": "UTC",
            "enqueued_at": "2026-12-04T09:59:59.123456789Z",
            "scheduled_at": None,
        }],
    }


@pytest.fixture
def redis_with_jobs(redis_client) -> Iterator[Any]:
    received.clear()
    yield redis_client


@pytest.mark.parametrize("wrapper", sorted(activejob.WRAPPER_CLASSES))
def test_activejob_payload_runs_wrapped_job(redis_with_jobs, run_burst, wrapper) -> None:
    redis_with_jobs.sadd("queues", "default")
    redis_with_jobs.lpush("queue:default", orjson.dumps(_activejob_payload(wrapper)))

    run_burst()

    assert received == [(42, "gid://shop/Order/7", {"at": "2026-12-04T10:00:00.000000000Z", "mode": "express"},
                         "de")]
    assert redis_with_jobs.zcard("retry") == 0


def test_sidekiq8_millisecond_payload_runs(redis_with_jobs, run_burst) -> None:
    now_ms = int(time.time() * 1000)
    job = {"class": "Sidekiq8Job", "args": ["ok"], "jid": "a" * 24, "queue": "default", "retry": True,
           "created_at": now_ms, "enqueued_at": now_ms}
    redis_with_jobs.lpush("queue:default", orjson.dumps(job))

    run_burst()

    assert received == [("ok",)]


def test_sidekiq8_failure_keeps_its_fields(redis_with_jobs, run_burst) -> None:
    now_ms = int(time.time() * 1000)
    job = {"class": "Sidekiq8Job", "args": ["fail"], "jid": "b" * 24, "queue": "default", "retry": 3,
           "created_at": now_ms, "enqueued_at": now_ms, "retry_for": 3600, "cattr": {"tenant": "acme"}}
    redis_with_jobs.lpush("queue:default", orjson.dumps(job))

    run_burst()

    ((raw,),) = [redis_with_jobs.zrange("retry", 0, -1)]
    entry = orjson.loads(raw)
    assert entry["created_at"] == now_ms
    assert entry["cattr"] == {"tenant": "acme"}
    assert entry["retry_count"] == 0
    assert entry["error_class"] == "RuntimeError"


def test_sidekiq8_retry_for_in_milliseconds_expires(redis_with_jobs, run_burst) -> None:
    two_hours_ago_ms = int((time.time() - 7200) * 1000)
    job = {"class": "Sidekiq8Job", "args": ["fail"], "jid": "c" * 24, "queue": "default", "retry": True,
           "created_at": two_hours_ago_ms, "failed_at": two_hours_ago_ms, "retry_count": 2, "retry_for": 3600}
    redis_with_jobs.lpush("queue:default", orjson.dumps(job))

    run_burst()

    assert redis_with_jobs.zcard("retry") == 0
    assert redis_with_jobs.zcard("dead") == 1


def test_decode_arguments_without_keywords() -> None:
    positional, keywords = activejob.decode_arguments([1, {"a": [{"_aj_globalid": "gid://x/Y/1"}]}])
    assert positional == [1, {"a": ["gid://x/Y/1"]}]
    assert keywords == {}


def test_unwrap_ignores_plain_jobs() -> None:
    assert activejob.unwrap({"class": "HardJob", "args": [1]}) is None
