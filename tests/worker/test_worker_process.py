"""A real `roadie worker` process: burst mode, payload format, failures and scheduling."""

from __future__ import annotations

import statistics
import time

import orjson
import pytest

import roadie
from roadie import payload


@pytest.fixture
def client(redis_url: str):  # type: ignore[no-untyped-def]
    with roadie.Client(redis_url) as client:
        yield client


def test_burst_runs_ten_thousand_jobs(start_worker, worker_jobs, client, redis_client) -> None:
    jids = worker_jobs.noop.set(client=client).perform_bulk([[index] for index in range(10_000)])
    assert len(set(jids)) == 10_000

    run = start_worker("--burst", "-c", "10", "-l", "warning")
    assert run.process.wait(120) == 0, run.output()

    indexes = [line[1] for line in run.lines() if line[0] == "noop"]
    assert sorted(indexes) == list(range(10_000))
    assert int(redis_client.get("stat:processed")) == 10_000
    assert redis_client.llen("queue:default") == 0


def test_enqueued_payload_has_sidekiq_fields(worker_jobs, client, redis_client) -> None:
    jid = worker_jobs.noop.set(client=client).perform_async(7)

    raw = redis_client.lrange("queue:default", 0, -1)
    assert len(raw) == 1
    job = orjson.loads(raw[0])
    assert job["class"] == "Noop"
    assert job["args"] == [7]
    assert job["jid"] == jid
    assert len(jid) == 24 and all(char in "0123456789abcdef" for char in jid)
    assert job["queue"] == "default"
    assert job["retry"] is True
    assert isinstance(job["created_at"], float)
    assert isinstance(job["enqueued_at"], float)
    assert redis_client.smembers("queues") == {b"default"}


def test_failure_lands_in_retry_with_fields(start_worker, worker_jobs, client, redis_client) -> None:
    enqueued = time.time()
    jid = worker_jobs.boom.set(client=client).perform_async("kaboom")

    run = start_worker("--burst")
    assert run.process.wait(60) == 0, run.output()

    entries = redis_client.zrange("retry", 0, -1, withscores=True)
    assert len(entries) == 1
    raw, score = entries[0]
    job = orjson.loads(raw)
    assert job["jid"] == jid
    assert job["retry_count"] == 0
    assert job["error_class"] == "ValueError"
    assert job["error_message"] == "kaboom"
    assert job["failed_at"] >= enqueued
    # First retry: 0**4 + 15 s plus up to 10 s of jitter after the failure.
    assert job["failed_at"] + 15 <= score <= job["failed_at"] + 25
    assert redis_client.zcard("dead") == 0
    assert int(redis_client.get("stat:failed")) == 1


def test_retry_zero_goes_to_dead(start_worker, worker_jobs, client, redis_client) -> None:
    worker_jobs.boom_no_retry.set(client=client).perform_async("dead on arrival")

    run = start_worker("--burst")
    assert run.process.wait(60) == 0, run.output()

    assert redis_client.zcard("retry") == 0
    dead = [orjson.loads(raw) for raw in redis_client.zrange("dead", 0, -1)]
    assert [job["error_message"] for job in dead] == ["dead on arrival"]


def test_retry_false_keeps_no_copy(start_worker, worker_jobs, client, redis_client) -> None:
    worker_jobs.boom_drop.set(client=client).perform_async("gone")

    run = start_worker("--burst")
    assert run.process.wait(60) == 0, run.output()

    assert redis_client.zcard("retry") == 0
    assert redis_client.zcard("dead") == 0
    assert int(redis_client.get("stat:failed")) == 1
    assert "fail" in run.output()


def test_retry_count_increments_on_second_failure(start_worker, worker_jobs, client, redis_client) -> None:
    worker_jobs.boom.set(client=client).perform_async("again")
    first = start_worker("--burst")
    assert first.process.wait(60) == 0, first.output()
    ((raw, _score),) = redis_client.zrange("retry", 0, -1, withscores=True)

    # Make the retry due now; the worker's poller moves it back to its queue.
    redis_client.zadd("retry", {raw: time.time() - 1})
    second = start_worker("--burst")
    assert second.process.wait(60) == 0, second.output()

    ((raw_again, _),) = redis_client.zrange("retry", 0, -1, withscores=True)
    job = orjson.loads(raw_again)
    assert job["retry_count"] == 1
    assert "retried_at" in job


def test_perform_in_waits_for_its_time(start_worker, worker_jobs, client, redis_client) -> None:
    """Scheduled jobs never start early; lateness is printed, not asserted."""
    delays = []
    run = start_worker()
    run.wait_for(lambda: redis_client.scard("processes") == 1, what="worker registration")
    for index in range(20):
        enqueued = time.time()
        worker_jobs.stamp.set(client=client).perform_in(2, f"job-{index}", enqueued)
        time.sleep(0.05)
    run.wait_for(lambda: sum(1 for line in run.lines() if line[0] == "stamp") == 20, timeout=30,
                 what="20 scheduled jobs")

    for _, _label, enqueued, started in run.lines():
        delays.append(started - enqueued)
    assert min(delays) >= 2.0
    delays.sort()
    p50 = statistics.median(delays)
    p99 = delays[int(len(delays) * 0.99) - 1]
    print(f"perform_in(2): start delay p50 {p50:.3f} s, p99 {p99:.3f} s over {len(delays)} jobs")


def test_unknown_job_is_retried_with_reason(start_worker, client, redis_client) -> None:
    client.push({"class": "Ruby::Only", "args": [1]})

    run = start_worker("--burst")
    assert run.process.wait(60) == 0, run.output()

    ((raw,),) = [redis_client.zrange("retry", 0, -1)]
    job = orjson.loads(raw)
    assert job["error_class"] == "roadie.errors.UnknownJobError"
    assert "Ruby::Only" in job["error_message"]


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1, 2]", b'{"args": []}', b'{"class": "Noop", "args": 5}', b"\xff\xfe{"],
    ids=["not-json", "array", "no-class", "args-not-list", "invalid-utf8"],
)
def test_bad_payload_goes_to_dead(start_worker, worker_jobs, client, redis_client, raw: bytes) -> None:
    redis_client.lpush("queue:default", raw)
    worker_jobs.noop.set(client=client).perform_async(1)

    run = start_worker("--burst")
    assert run.process.wait(60) == 0, run.output()

    dead = [orjson.loads(entry) for entry in redis_client.zrange("dead", 0, -1)]
    assert len(dead) == 1
    assert dead[0]["error_class"] == "roadie.errors.PayloadError"
    assert dead[0]["raw_base64"]
    assert payload.decode_backtrace  # the module stays importable for the next assert
    import base64

    assert base64.b64decode(dead[0]["raw_base64"]) == raw
    assert [line for line in run.lines() if line[0] == "noop"] == [["noop", 1]]


def test_strict_queues_drain_in_order(start_worker, worker_jobs, client) -> None:
    handle = worker_jobs.queued.set(client=client)
    for index in range(20):
        handle.set(queue="low").perform_async("low", index)
        handle.set(queue="high").perform_async("high", index)

    run = start_worker("--burst", "-c", "1", "-q", "high", "-q", "low")
    assert run.process.wait(60) == 0, run.output()

    order = [line[1] for line in run.lines() if line[0] == "queued"]
    assert order == ["high"] * 20 + ["low"] * 20


def test_weighted_queues_mix_both(start_worker, worker_jobs, client) -> None:
    handle = worker_jobs.queued.set(client=client)
    for index in range(200):
        handle.set(queue="a").perform_async("a", index)
        handle.set(queue="b").perform_async("b", index)

    run = start_worker("--burst", "-c", "1", "-q", "a,3", "-q", "b,1")
    assert run.process.wait(60) == 0, run.output()

    first_half = [line[1] for line in run.lines() if line[0] == "queued"][:200]
    # With weights 3:1 queue a comes first about three times in four, but b is not starved.
    assert first_half.count("b") > 10
    assert first_half.count("a") > first_half.count("b")


def test_async_and_sync_jobs_in_one_process(start_worker, worker_jobs, client) -> None:
    worker_jobs.noop.set(client=client).perform_bulk([[index] for index in range(50)])
    worker_jobs.async_noop.set(client=client).perform_bulk([[index] for index in range(50)])

    run = start_worker("--burst")
    assert run.process.wait(60) == 0, run.output()

    kinds = [line[0] for line in run.lines()]
    assert kinds.count("noop") == 50
    assert kinds.count("async") == 50


def test_unknown_config_key_fails(start_worker, jobs_dir) -> None:
    (jobs_dir / "roadie.yml").write_text("concurency: 5\n", encoding="utf-8")

    run = start_worker("--burst")
    assert run.process.wait(30) == 1
    assert "unknown key 'concurency'" in run.output()
    assert "concurrency" in run.output()
