"""Failed jobs cross between roadie and Sidekiq: each side reads and retries the other's retry entries."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis

import roadie
from roadie import payload
from roadie.api import RetrySet, SortedEntry

PYTHON_ERROR = "failed in Python with {count} arguments: ünïcödé"
RUBY_ERROR = "failed in Ruby with {count} arguments: ünïcödé"

# Floats that orjson and Ruby 3.1's Float#to_s write differently. Ruby
# switches to exponent form below 1e-4 and from 1e15 up, always with ".0"
# and a two-digit exponent (1.0e-07, 1.0e+15). orjson writes 1e-7 and
# 1000000000000000.0.
EXPONENT_FLOATS = [1e-07, 2.5e-05, 1e15, 1e16, 1e20]


def fail_in_roadie(interop, args: list[Any]) -> None:
    """Push FailsInPython with roadie's client and run it once in a burst worker."""
    client = roadie.Client(interop.redis_url)
    try:
        client.push({"class": "FailsInPython", "args": args, "retry": 3, "backtrace": True})
    finally:
        client.close()
    interop.run_roadie_burst()


def fail_in_sidekiq(interop, redis_client: redis.Redis, args: list[Any]) -> None:
    """Push FailsInRuby with Sidekiq's client and let a Sidekiq process fail it once."""
    job = {"class": "FailsInRuby", "args": args, "retry": 3, "backtrace": True}
    interop.ruby("client.rb", "push", stdin={"job": job})
    sidekiq = interop.start_sidekiq()
    interop.wait_for(lambda: redis_client.zcard("retry") == 1, 30, "Sidekiq to put the failed job in the retry set")
    interop.stop(sidekiq)


def make_retries_due(redis_client: redis.Redis) -> None:
    """Give every retry entry a score one second in the past, keeping each member's exact bytes."""
    for member in redis_client.zrange("retry", 0, -1):
        redis_client.zadd("retry", {member: time.time() - 1}, xx=True)


def read_retry_entries(redis_url: str) -> list[SortedEntry]:
    """Return the retry entries through roadie's admin API."""
    client = roadie.Client(redis_url)
    try:
        return list(RetrySet(client=client))
    finally:
        client.close()


# ------------------------------------------------------- roadie fails, Ruby reads


def test_roadie_failure_readable_in_ruby(interop, redis_client: redis.Redis, sample_args, as_typed):
    started = time.time()
    fail_in_roadie(interop, sample_args)
    finished = time.time()

    entries = interop.ruby("api.rb", "retries")
    raw = redis_client.zrange("retry", 0, 0)[0]

    assert len(entries) == 1
    entry = entries[0]
    assert entry["class"] == "FailsInPython"
    assert as_typed(entry["args"]) == as_typed(sample_args)
    assert entry["retry_count"] == 0
    assert entry["error_class"] == "ValueError"
    assert entry["error_message"] == PYTHON_ERROR.format(count=len(sample_args))
    # Float epoch seconds, the unit Sidekiq 6 and 7 read.
    assert isinstance(entry["failed_at"], float)
    assert started <= entry["failed_at"] <= finished
    assert entry["queue"] == "default"
    assert entry["error_backtrace"] == payload.decode_backtrace(payload.decode(raw)["error_backtrace"])
    assert any("interop_jobs.py" in line for line in entry["error_backtrace"])


def reschedule_in_ruby(interop, redis_client: redis.Redis, args: list[Any]) -> tuple[bytes, int, list]:
    """Fail a job in roadie, then reschedule its retry entry with Sidekiq's API.

    SortedEntry#reschedule finds its member by serializing the job again in
    Ruby (ZINCRBY). So it moves the entry only when roadie wrote the bytes that
    Ruby's JSON.generate writes, and otherwise it adds a second entry.
    Returns the member before, the set size Ruby reports, and the entries after.
    """
    fail_in_roadie(interop, args)
    member_before = redis_client.zrange("retry", 0, 0)[0]
    size = interop.ruby("api.rb", "reschedule_retries")
    return member_before, size, redis_client.zrange("retry", 0, -1, withscores=True)


def test_ruby_reschedule_keeps_one_entry(interop, redis_client: redis.Redis, sample_args):
    args = [value for value in sample_args if value not in EXPONENT_FLOATS]

    member_before, size, entries = reschedule_in_ruby(interop, redis_client, args)

    assert size == 1
    assert entries[0][0] == member_before
    assert entries[0][1] < time.time()


def test_ruby_reschedule_exponent_floats(interop, redis_client: redis.Redis):
    member_before, size, entries = reschedule_in_ruby(interop, redis_client, EXPONENT_FLOATS)

    assert size == 1
    assert entries[0][0] == member_before


def test_roadie_retry_runs_in_sidekiq(interop, redis_client: redis.Redis, sample_args, as_typed):
    fail_in_roadie(interop, sample_args)
    make_retries_due(redis_client)

    sidekiq = interop.start_sidekiq()
    interop.wait_for(lambda: interop.recorded("FailsInPython"), 30, "Sidekiq to retry the job roadie failed")
    exit_code = interop.stop(sidekiq)

    assert [as_typed(args) for args in interop.recorded("FailsInPython")] == [as_typed(sample_args)]
    assert redis_client.zcard("retry") == 0
    assert exit_code == 0


# ------------------------------------------------------ Ruby fails, roadie reads


def test_sidekiq_failure_readable_in_roadie(interop, redis_client: redis.Redis, sample_args, as_typed):
    fail_in_sidekiq(interop, redis_client, sample_args)

    entries = read_retry_entries(interop.redis_url)

    assert len(entries) == 1
    entry = entries[0]
    assert entry.class_name == "FailsInRuby"
    assert as_typed(entry.args) == as_typed(sample_args)
    assert entry.retry_count == 0
    assert entry.error_class == "RuntimeError"
    assert entry.error_message == RUBY_ERROR.format(count=len(sample_args))
    assert isinstance(entry.item["failed_at"], float)
    assert entry.failed_at == entry.item["failed_at"]
    # Sidekiq 6.4 writes MIME base64, with a line break every 60 characters.
    assert "\n" in entry.item["error_backtrace"]
    assert any("worker.rb" in line for line in entry.error_backtrace or [])


def test_sidekiq_retry_runs_in_roadie(interop, redis_client: redis.Redis, sample_args, as_typed):
    fail_in_sidekiq(interop, redis_client, sample_args)
    make_retries_due(redis_client)

    interop.run_roadie_burst()

    assert [as_typed(args) for args in interop.recorded("FailsInRuby")] == [as_typed(sample_args)]
    assert redis_client.zcard("retry") == 0

