"""Tests for the admin API in roadie.api, against a real Redis server."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import redis

from roadie import api, payload
from roadie.client import Client
from roadie.config import Settings
from roadie.errors import PayloadError, RedisUnavailableError
from roadie.middleware import Chain


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        time.sleep(0.05)
    return True


def job_bytes(jid: str, job_class: str = "HardJob", **fields: object) -> bytes:
    """Return a compact job payload with ``jid``, ``class`` and ``args`` plus ``fields``."""
    return orjson.dumps({"class": job_class, "args": fields.pop("args", [1]), "jid": jid, **fields})


def jid_for(index: int) -> str:
    return f"{index:024x}"


@pytest.fixture
def client(redis_url: str) -> Iterator[Client]:
    connected = Client(redis_url, settings=Settings())
    try:
        yield connected
    finally:
        connected.close()


def queue_jobs(redis_client: redis.Redis, name: str) -> list[dict[str, object]]:
    return [orjson.loads(raw) for raw in redis_client.lrange(f"queue:{name}", 0, -1)]


# ------------------------------------------------------------ client choice


def test_client_and_url_conflict(redis_url: str, client: Client) -> None:
    with pytest.raises(TypeError):
        api.Queue("default", client, url=redis_url)


def test_url_builds_own_client(redis_url: str, redis_client: redis.Redis) -> None:
    redis_client.lpush("queue:default", job_bytes(jid_for(1)))

    queue = api.Queue("default", url=redis_url, settings=Settings())

    assert queue.size == 1


def test_unreachable_redis_raises_unavailable() -> None:
    stats = api.Stats(url="redis://127.0.0.1:1/0", settings=Settings())

    with pytest.raises(RedisUnavailableError, match="127.0.0.1:1"):
        stats.refresh()


def test_unreachable_redis_during_iteration() -> None:
    retries = api.RetrySet(url="redis://127.0.0.1:1/0", settings=Settings())

    with pytest.raises(RedisUnavailableError):
        list(retries)


# --------------------------------------------------------------- JobRecord


def test_record_reads_millisecond_timestamps() -> None:
    record = api.JobRecord(job_bytes(jid_for(1), enqueued_at=1_700_000_000_123, created_at=1_700_000_000_000))

    assert record.enqueued_at == pytest.approx(1_700_000_000.123)
    assert record.created_at == pytest.approx(1_700_000_000.0)


def test_record_reads_float_second_timestamps() -> None:
    record = api.JobRecord(job_bytes(jid_for(1), enqueued_at=1_700_000_000.5, failed_at=1_700_000_001.25))

    assert record.enqueued_at == 1_700_000_000.5
    assert record.failed_at == 1_700_000_001.25


def test_record_latency_from_enqueued_at() -> None:
    record = api.JobRecord(job_bytes(jid_for(1), enqueued_at=int((time.time() - 120) * 1000)))

    assert 120 <= record.latency < 3600


def test_record_latency_falls_back_to_created_at() -> None:
    record = api.JobRecord(job_bytes(jid_for(1), created_at=time.time() - 60))

    assert 60 <= record.latency < 3600


def test_record_job_class_prefers_wrapped() -> None:
    record = api.JobRecord(job_bytes(jid_for(1), "Sidekiq::ActiveJob::Wrapper", wrapped="SendMailJob"))

    assert record.job_class == "SendMailJob"
    assert record.class_name == "Sidekiq::ActiveJob::Wrapper"


def test_record_fields_from_job_hash() -> None:
    record = api.JobRecord(job_bytes(
        jid_for(7), queue="mail", args=[1, "two"], retry_count=3, error_class="KeyError",
        error_message="missing", tags=["a"], bid="batch-1",
    ))

    assert record.jid == jid_for(7)
    assert record.queue == "mail"
    assert record.args == [1, "two"]
    assert record.retry_count == 3
    assert record.error_class == "KeyError"
    assert record.error_message == "missing"
    assert record.tags == ["a"]
    assert record["bid"] == "batch-1"
    assert record.get("absent", "fallback") == "fallback"


def test_record_undecodable_payload() -> None:
    raw = b'{"class": "Broken", "args": ['

    record = api.JobRecord(raw)

    assert record.valid is False
    assert record.args == [raw.decode()]
    assert record.item == {"args": [raw.decode()]}
    assert record.jid is None
    assert record.job_class is None
    assert record.raw == raw


def test_record_json_array_is_invalid() -> None:
    record = api.JobRecord(b"[1, 2]")

    assert record.valid is False
    assert record.args == ["[1, 2]"]


def test_record_decodes_strict_backtrace() -> None:
    lines = ["app.py:1 in run", "lib.py:20 in call"]
    record = api.JobRecord(job_bytes(jid_for(1), error_backtrace=payload.encode_backtrace(lines)))

    assert record.error_backtrace == lines


def test_record_decodes_mime_backtrace() -> None:
    lines = [f"frame {index} in some/long/path/file.rb" for index in range(20)]
    encoded = payload.encode_backtrace(lines)
    wrapped = "\n".join(encoded[start:start + 60] for start in range(0, len(encoded), 60)) + "\n"
    record = api.JobRecord(job_bytes(jid_for(1), error_backtrace=wrapped))

    assert record.error_backtrace == lines


def test_record_invalid_backtrace_is_none() -> None:
    record = api.JobRecord(job_bytes(jid_for(1), error_backtrace="not base64 at all!"))

    assert record.error_backtrace is None


def test_record_missing_backtrace_is_none() -> None:
    assert api.JobRecord(job_bytes(jid_for(1))).error_backtrace is None


# ------------------------------------------------------------------- Queue


def test_queue_all_sorted_names(client: Client) -> None:
    for name in ("mail", "critical", "default"):
        client.enqueue("HardJob", queue=name)

    names = [queue.name for queue in api.Queue.all(client)]

    assert names == ["critical", "default", "mail"]


def test_queue_size_counts_jobs(client: Client) -> None:
    for index in range(3):
        client.enqueue("HardJob", index)

    assert api.Queue("default", client).size == 3


def test_queue_latency_float_seconds(client: Client, redis_client: redis.Redis) -> None:
    redis_client.lpush("queue:default", job_bytes(jid_for(1), enqueued_at=time.time() - 30.0))
    redis_client.lpush("queue:default", job_bytes(jid_for(2), enqueued_at=time.time()))

    assert 30 <= api.Queue("default", client).latency < 3600


def test_queue_latency_integer_milliseconds(client: Client, redis_client: redis.Redis) -> None:
    redis_client.lpush("queue:default", job_bytes(jid_for(1), enqueued_at=int((time.time() - 45) * 1000)))

    assert 45 <= api.Queue("default", client).latency < 3600


def test_queue_latency_empty_is_zero(client: Client) -> None:
    assert api.Queue("default", client).latency == 0.0


def test_queue_iterates_newest_first(client: Client) -> None:
    for index in range(10):
        client.enqueue("HardJob", index)
    queue = api.Queue("default", client)
    queue.page_size = 3

    assert [job.args[0] for job in queue] == list(range(9, -1, -1))


def test_queue_iteration_survives_deletes(client: Client) -> None:
    for index in range(20):
        client.enqueue("HardJob", index)
    queue = api.Queue("default", client)
    queue.page_size = 4

    seen = []
    for job in queue:
        seen.append(job.args[0])
        if job.args[0] % 2 == 0:
            assert job.delete()

    assert seen == list(range(19, -1, -1))
    assert [job.args[0] for job in queue] == list(range(19, 0, -2))


def test_queue_iteration_follows_pushes(client: Client) -> None:
    for index in range(12):
        client.enqueue("HardJob", index)
    queue = api.Queue("default", client)
    queue.page_size = 5

    seen = []
    for job in queue:
        seen.append(job.args[0])
        if job.args[0] in (11, 6):
            # New jobs go to the head, before the cursor; they shift every index.
            client.enqueue("HardJob", 100 + job.args[0])

    assert seen == list(range(11, -1, -1))


def test_queue_iteration_follows_many_pushes(client: Client) -> None:
    for index in range(9):
        client.enqueue("HardJob", index)
    queue = api.Queue("default", client)
    queue.page_size = 3

    seen = []
    for job in queue:
        seen.append(job.args[0])
        if job.args[0] == 6:
            # More new jobs than a page shift the cursor out of sight.
            for extra in range(20):
                client.enqueue("HardJob", 100 + extra)

    assert seen == list(range(8, -1, -1))


def test_queue_iteration_deleting_everything(client: Client, redis_client: redis.Redis) -> None:
    for index in range(10):
        client.enqueue("HardJob", index)
    queue = api.Queue("default", client)
    queue.page_size = 3

    seen = []
    for job in queue:
        seen.append(job.args[0])
        job.delete()

    assert seen == list(range(9, -1, -1))
    assert redis_client.llen("queue:default") == 0


def test_queue_iteration_with_worker_pops(client: Client, redis_client: redis.Redis) -> None:
    for index in range(10):
        client.enqueue("HardJob", index)
    queue = api.Queue("default", client)
    queue.page_size = 3

    seen = []
    for job in queue:
        seen.append(job.args[0])
        if job.args[0] == 9:
            # A worker takes the oldest jobs from the tail meanwhile.
            redis_client.rpop("queue:default", 2)

    assert seen == list(range(9, 1, -1))


def test_queue_find_job(client: Client) -> None:
    jids = [client.enqueue("HardJob", index) for index in range(7)]
    queue = api.Queue("default", client)
    queue.page_size = 2

    found = queue.find_job(jids[1])

    assert found is not None
    assert found.args == [1]


def test_queue_find_job_missing(client: Client) -> None:
    client.enqueue("HardJob", 1)

    assert api.Queue("default", client).find_job(jid_for(999)) is None


def test_queue_delete_by_exact_bytes(client: Client, redis_client: redis.Redis) -> None:
    spaced = b'{"class": "HardJob", "args": [1, 2], "jid": "%s", "queue": "default"}' % jid_for(5).encode()
    redis_client.lpush("queue:default", spaced, job_bytes(jid_for(6)))

    job = api.Queue("default", client).find_job(jid_for(5))
    assert job is not None
    deleted = job.delete()

    assert deleted is True
    assert redis_client.lrange("queue:default", 0, -1) == [job_bytes(jid_for(6))]


def test_queue_delete_twice_reports_gone(client: Client) -> None:
    jid = client.enqueue("HardJob", 1)
    job = api.Queue("default", client).find_job(jid)
    assert job is not None

    assert job.delete() is True
    assert job.delete() is False


def test_queue_delete_uses_list_read(client: Client, redis_client: redis.Redis) -> None:
    # A job moved by hand into another queue still names its old queue.
    redis_client.lpush("queue:mail", job_bytes(jid_for(1), queue="default"))
    redis_client.lpush("queue:default", job_bytes(jid_for(1), queue="default"))

    [job] = list(api.Queue("mail", client))

    assert job.queue == "mail"
    assert job.delete() is True
    assert redis_client.llen("queue:mail") == 0
    assert redis_client.llen("queue:default") == 1


def test_queue_page_reads_range(client: Client) -> None:
    for index in range(10):
        client.enqueue("HardJob", index)

    size, jobs = api.Queue("default", client).page(3, 4)

    assert size == 10
    assert [job.args[0] for job in jobs] == [6, 5, 4, 3]


def test_queue_clear_removes_list_and_name(client: Client, redis_client: redis.Redis) -> None:
    for index in range(3):
        client.enqueue("HardJob", index, queue="mail")
    client.enqueue("HardJob", queue="default")

    removed = api.Queue("mail", client).clear()

    assert removed == 3
    assert redis_client.exists("queue:mail") == 0
    assert redis_client.smembers("queues") == {b"default"}


def test_queue_pause_and_unpause(client: Client, redis_client: redis.Redis) -> None:
    queue = api.Queue("mail", client)

    queue.pause()
    assert queue.paused is True
    assert redis_client.smembers("paused") == {b"mail"}

    queue.unpause()
    assert queue.paused is False


def test_queue_undecodable_member_iterates(client: Client, redis_client: redis.Redis) -> None:
    redis_client.lpush("queue:default", job_bytes(jid_for(1)), b"\xff not json", job_bytes(jid_for(2)))

    jobs = list(api.Queue("default", client))

    assert [job.valid for job in jobs] == [True, False, True]
    assert jobs[1].queue == "default"
    assert jobs[1].delete() is True


# ------------------------------------------------------------- sorted sets


def fill_set(redis_client: redis.Redis, key: str, count: int, base: float | None = None, **fields: object) -> None:
    base = time.time() + 3600 if base is None else base
    redis_client.zadd(key, {
        job_bytes(jid_for(index), args=[index], queue="default", **fields): base + index for index in range(count)
    })


def test_retry_set_iterates_by_score(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 10)
    retries = api.RetrySet(client)
    retries.page_size = 3

    assert [entry.args[0] for entry in retries] == list(range(10))


def test_dead_set_iterates_newest_first(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 10, base=time.time() - 100)
    dead = api.DeadSet(client)
    dead.page_size = 4

    assert [entry.args[0] for entry in dead] == list(range(9, -1, -1))


def test_entry_score_and_key(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("schedule", {job_bytes(jid_for(3)): 1_800_000_000.25})

    entry = next(iter(api.ScheduledSet(client)))

    assert entry.score == 1_800_000_000.25
    assert entry.at == 1_800_000_000.25
    assert entry.key == f"1800000000.25-{jid_for(3)}"


def test_sorted_iteration_survives_deletes(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 20)
    retries = api.RetrySet(client)
    retries.page_size = 4

    seen = []
    for entry in retries:
        seen.append(entry.args[0])
        if entry.args[0] % 3 == 0:
            assert entry.delete()

    assert seen == list(range(20))
    assert retries.size == 13


def test_dead_iteration_survives_kills_added(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 12, base=time.time() - 1000)
    dead = api.DeadSet(client)
    dead.page_size = 5

    seen = []
    for entry in dead:
        seen.append(entry.args[0])
        if entry.args[0] == 10:
            # A newer death lands before the cursor of a newest-first iteration.
            dead.kill(job_bytes(jid_for(500), args=[500]))

    assert seen == list(range(11, -1, -1))


def test_sorted_iteration_equal_scores_removed(client: Client, redis_client: redis.Redis) -> None:
    score = time.time() + 60
    members = sorted(job_bytes(jid_for(index), args=[index]) for index in range(9))
    redis_client.zadd("retry", {member: score for member in members})
    retries = api.RetrySet(client)
    retries.page_size = 3

    seen = []
    for entry in retries:
        seen.append(entry.raw)
        if len(seen) == 3:
            # Another client removes the last entry yielded, so the cursor is
            # found again by score and by position among equal scores.
            redis_client.zrem("retry", entry.raw)

    assert seen == members


def test_dead_page_newest_first(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 10, base=time.time() - 100)

    size, entries = api.DeadSet(client).page(2, 3)

    assert size == 10
    assert [entry.args[0] for entry in entries] == [7, 6, 5]


def test_set_find_job(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 30)

    entry = api.RetrySet(client).find_job(jid_for(17))

    assert entry is not None
    assert entry.args == [17]


def test_set_find_job_missing(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 3)

    assert api.RetrySet(client).find_job(jid_for(99)) is None


def test_set_fetch_by_score(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("schedule", {job_bytes(jid_for(1)): 1_800_000_000.5, job_bytes(jid_for(2)): 1_800_000_000.5,
                                   job_bytes(jid_for(3)): 1_800_000_001.0})
    scheduled = api.ScheduledSet(client)

    assert {entry.jid for entry in scheduled.fetch(1_800_000_000.5)} == {jid_for(1), jid_for(2)}
    assert [entry.jid for entry in scheduled.fetch(1_800_000_000.5, jid_for(2))] == [jid_for(2)]


def test_scan_matches_substring_literally(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("retry", {
        job_bytes(jid_for(1), error_message="value [x] is *bad*"): 1.0,
        job_bytes(jid_for(2), error_message="value x is bad"): 2.0,
    })

    found = [entry.jid for entry in api.RetrySet(client).scan("[x] is *bad")]

    assert found == [jid_for(1)]


def test_search_returns_matches_in_display_order(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("dead", {job_bytes(jid_for(index), args=[f"customer-{index}"]): float(index)
                               for index in range(1, 6)})
    redis_client.zadd("dead", {job_bytes(jid_for(9), args=["someone-else"]): 9.0})

    result = api.DeadSet(client).search("customer")

    assert [entry.jid for entry in result.entries] == [jid_for(index) for index in (5, 4, 3, 2, 1)]
    assert (result.start, result.searched_to, result.size, result.next_cursor) == (0, 6, 6, None)


def test_search_stops_at_limit_and_goes_on(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("retry", {job_bytes(jid_for(index), args=["needle" if index % 2 else "hay"]): float(index)
                                for index in range(10)})
    retries = api.RetrySet(client)

    first = retries.search("needle", limit=2)
    rest = retries.search("needle", first.next_cursor, limit=10)

    assert [entry.jid for entry in first.entries] == [jid_for(1), jid_for(3)]
    # The second match is the fourth entry, so the next search starts just after it.
    assert first.next_cursor == api.SearchCursor(3.0, 1)
    assert first.searched_to == 4
    assert [entry.jid for entry in rest.entries] == [jid_for(5), jid_for(7), jid_for(9)]
    assert rest.start == 4
    assert rest.next_cursor is None


def test_search_cursor_survives_removed_entries(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("retry", {job_bytes(jid_for(index), args=["needle" if index in (25, 26) else "hay"]):
                                float(index) for index in range(40)})
    retries = api.RetrySet(client)

    first = retries.search("needle", limit=1)
    # The poller takes due retries from the front, which shifts every rank.
    redis_client.zpopmin("retry", 5)
    second = retries.search("needle", first.next_cursor, limit=1)

    assert [entry.jid for entry in first.entries] == [jid_for(25)]
    assert [entry.jid for entry in second.entries] == [jid_for(26)]


def test_search_cursor_ignores_new_dead_jobs(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("dead", {job_bytes(jid_for(index), args=["needle"]): float(index) for index in range(10)})
    dead = api.DeadSet(client)

    first = dead.search("needle", limit=5)
    # Jobs that die meanwhile go in at the top of the newest-first order.
    redis_client.zadd("dead", {job_bytes(jid_for(100 + index), args=["needle"]): 100.0 + index for index in range(3)})
    second = dead.search("needle", first.next_cursor, limit=5)

    assert [entry.jid for entry in first.entries] == [jid_for(index) for index in (9, 8, 7, 6, 5)]
    assert [entry.jid for entry in second.entries] == [jid_for(index) for index in (4, 3, 2, 1, 0)]


@pytest.mark.parametrize(("key", "set_class", "removed"), [("dead", api.DeadSet, 5), ("retry", api.RetrySet, 4)])
def test_search_cursor_entry_removed_skips_nothing(client: Client, redis_client: redis.Redis, key: str,
                                                   set_class: type[api.SortedSet], removed: int) -> None:
    redis_client.zadd(key, {job_bytes(jid_for(index), args=["needle"]): float(index) for index in range(10)})
    found = set_class(client)

    first = found.search("needle", limit=5)
    # The last entry shown leaves the set: an operator deleted it, or the poller moved it.
    redis_client.zrem(key, job_bytes(jid_for(removed), args=["needle"]))
    second = found.search("needle", first.next_cursor, limit=5)

    assert jid_for(removed) in [entry.jid for entry in first.entries]
    assert len(first.entries) + len(second.entries) == 10
    assert second.start == 4


def test_search_through_equal_scores(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("schedule", {job_bytes(jid_for(index), args=["needle"]): 7.0 for index in range(5)})
    scheduled = api.ScheduledSet(client)

    seen = []
    cursor = None
    for _ in range(5):
        result = scheduled.search("needle", cursor, limit=2)
        seen += [entry.jid for entry in result.entries]
        cursor = result.next_cursor
        if cursor is None:
            break

    assert sorted(seen) == [jid_for(index) for index in range(5)]


def test_search_matches_literally(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("retry", {
        job_bytes(jid_for(1), error_message="value [x] is *bad*"): 1.0,
        job_bytes(jid_for(2), error_message="value x is bad"): 2.0,
    })

    assert [entry.jid for entry in api.RetrySet(client).search("[x] is *bad").entries] == [jid_for(1)]


def test_search_time_budget_stops_at_chunk_boundary(client: Client, redis_client: redis.Redis) -> None:
    from roadie.api.sets import SEARCH_CHUNK

    redis_client.zadd("schedule", {job_bytes(jid_for(index)): float(index) for index in range(SEARCH_CHUNK + 5)})
    redis_client.zadd("schedule", {job_bytes(jid_for(99_999), args=["late"]): 1e12})

    stopped = api.ScheduledSet(client).search("late", time_budget=0)
    finished = api.ScheduledSet(client).search("late", stopped.next_cursor, time_budget=0)

    assert stopped.entries == []
    assert stopped.searched_to == SEARCH_CHUNK
    assert [entry.jid for entry in finished.entries] == [jid_for(99_999)]
    assert finished.next_cursor is None


@pytest.mark.parametrize("text", ["", "1.5", "abc,1", "1.5,x", "nan,0", "inf,0", "1.5,-1"])
def test_search_cursor_rejects_invalid_text(text: str) -> None:
    with pytest.raises(ValueError, match="search cursor"):
        api.SearchCursor.parse(text)


def test_search_cursor_text_round_trip() -> None:
    cursor = api.SearchCursor(1733353200.123456, 2)

    assert api.SearchCursor.parse(str(cursor)) == cursor


def test_search_rejects_zero_limit(client: Client) -> None:
    with pytest.raises(ValueError, match="limit"):
        api.RetrySet(client).search("x", limit=0)


def test_entry_delete_by_exact_bytes(client: Client, redis_client: redis.Redis) -> None:
    spaced = b'{"class": "HardJob", "args": [1], "jid": "%s", "retry_count": 2}' % jid_for(4).encode()
    redis_client.zadd("retry", {spaced: time.time()})

    entry = api.RetrySet(client).find_job(jid_for(4))
    assert entry is not None

    assert entry.delete() is True
    assert redis_client.zcard("retry") == 0


def test_entry_reschedule_changes_score(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("schedule", {job_bytes(jid_for(1)): 1_800_000_000.0})
    entry = next(iter(api.ScheduledSet(client)))

    assert entry.reschedule(1_900_000_000.0) is True
    assert redis_client.zscore("schedule", entry.raw) == 1_900_000_000.0


def test_retry_decrements_retry_count(client: Client, redis_client: redis.Redis) -> None:
    spaced = (b'{"class": "HardJob", "args": [1], "jid": "%s", "queue": "mail", "retry_count": 4, '
              b'"created_at": 1700000000123, "lock_digest": "uniquejobs:abc"}' % jid_for(1).encode())
    redis_client.zadd("retry", {spaced: time.time() + 100})
    entry = api.RetrySet(client).find_job(jid_for(1))
    assert entry is not None

    assert entry.retry() is True

    [pushed] = queue_jobs(redis_client, "mail")
    assert pushed["retry_count"] == 3
    assert pushed["lock_digest"] == "uniquejobs:abc"
    assert pushed["created_at"] == 1700000000123
    assert isinstance(pushed["enqueued_at"], float)
    assert redis_client.sismember("queues", "mail")
    assert redis_client.zcard("retry") == 0


def test_dead_retry_gives_one_attempt(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("dead", {job_bytes(jid_for(1), queue="default", retry=0, retry_count=0): time.time()})
    entry = api.DeadSet(client).find_job(jid_for(1))
    assert entry is not None

    assert entry.retry() is True
    assert queue_jobs(redis_client, "default")[0]["retry_count"] == -1


def test_retry_twice_pushes_once(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 1, retry_count=1)
    first = api.RetrySet(client).find_job(jid_for(0))
    second = api.RetrySet(client).find_job(jid_for(0))
    assert first is not None and second is not None

    assert first.retry() is True
    assert second.retry() is False
    assert redis_client.llen("queue:default") == 1


def test_scheduled_add_to_queue_unchanged(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "schedule", 1, retry_count=2, custom={"keep": True})
    entry = api.ScheduledSet(client).find_job(jid_for(0))
    assert entry is not None

    assert entry.retry() is True

    [pushed] = queue_jobs(redis_client, "default")
    assert pushed["retry_count"] == 2
    assert pushed["custom"] == {"keep": True}
    assert "enqueued_at" in pushed


def test_retry_entry_add_to_queue_keeps_count(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 1, retry_count=5)
    entry = api.RetrySet(client).find_job(jid_for(0))
    assert entry is not None

    assert entry.add_to_queue() is True
    assert queue_jobs(redis_client, "default")[0]["retry_count"] == 5


def test_entry_kill_moves_exact_bytes(client: Client, redis_client: redis.Redis) -> None:
    spaced = b'{"class": "HardJob", "args": [1], "jid": "%s", "queue": "default"}' % jid_for(9).encode()
    redis_client.zadd("retry", {spaced: time.time() + 100})
    entry = api.RetrySet(client).find_job(jid_for(9))
    assert entry is not None

    assert entry.kill() is True

    assert redis_client.zrange("dead", 0, -1) == [spaced]
    assert redis_client.zcard("retry") == 0
    assert entry.kill() is False


def test_undecodable_entry_cannot_be_retried(client: Client, redis_client: redis.Redis) -> None:
    redis_client.zadd("dead", {b"not json": time.time(), job_bytes(jid_for(1)): time.time() - 1})

    entries = list(api.DeadSet(client))

    assert [entry.valid for entry in entries] == [False, True]
    with pytest.raises(PayloadError):
        entries[0].retry()
    assert redis_client.zcard("dead") == 2


def test_retry_all_moves_each_once(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 1000, retry_count=1)

    moved = api.RetrySet(client).retry_all()

    jids = [job["jid"] for job in queue_jobs(redis_client, "default")]
    assert moved == 1000
    assert len(jids) == 1000
    assert len(set(jids)) == 1000
    assert redis_client.zcard("retry") == 0


def test_retry_all_decrements_counts(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 3, retry_count=2)

    api.RetrySet(client).retry_all()

    assert {job["retry_count"] for job in queue_jobs(redis_client, "default")} == {1}


def test_retry_all_leaves_undecodable_entries(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 5)
    redis_client.zadd("retry", {b"{broken": 5.0})

    moved = api.RetrySet(client).retry_all()

    assert moved == 5
    assert redis_client.zrange("retry", 0, -1, withscores=True) == [(b"{broken", 5.0)]


def test_retry_all_leaves_rejected_jobs(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 2)
    rejected = job_bytes(jid_for(50), args="not a list")
    redis_client.zadd("retry", {rejected: 1.0})

    moved = api.RetrySet(client).retry_all()

    assert moved == 2
    assert redis_client.zrange("retry", 0, -1) == [rejected]


def test_retry_all_skips_later_additions(redis_url: str, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 3, base=1000.0)
    later = job_bytes(jid_for(77), args=[77], queue="default")

    def add_retry_meanwhile(job: dict[str, object], queue: str, call_next: Callable[[], object]) -> object:
        # A job that fails while retry_all runs lands after the highest score seen at the start.
        redis_client.zadd("retry", {later: 5000.0})
        return call_next()

    meddling = Client(redis_url, settings=Settings(), middleware=Chain([add_retry_meanwhile]))
    try:
        moved = api.RetrySet(meddling).retry_all()
    finally:
        meddling.close()

    assert moved == 3
    assert redis_client.zrange("retry", 0, -1) == [later]


def test_retry_runs_client_middleware(redis_url: str, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 1)

    def tag(job: dict[str, object], queue: str, call_next: Callable[[], object]) -> object:
        job["tags"] = ["retried-by-hand"]
        return call_next()

    tagging = Client(redis_url, settings=Settings(), middleware=Chain([tag]))
    try:
        entry = api.RetrySet(tagging).find_job(jid_for(0))
        assert entry is not None
        assert entry.retry() is True
    finally:
        tagging.close()

    assert queue_jobs(redis_client, "default")[0]["tags"] == ["retried-by-hand"]


def test_retry_stopped_by_middleware_drops(redis_url: str, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 1)

    def stop(job: dict[str, object], queue: str, call_next: Callable[[], object]) -> None:
        return None

    stopping = Client(redis_url, settings=Settings(), middleware=Chain([stop]))
    try:
        entry = api.RetrySet(stopping).find_job(jid_for(0))
        assert entry is not None
        assert entry.retry() is False
    finally:
        stopping.close()

    assert redis_client.zcard("retry") == 0
    assert redis_client.llen("queue:default") == 0


def test_add_to_queue_all_scheduled(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "schedule", 250)

    moved = api.ScheduledSet(client).add_to_queue_all()

    assert moved == 250
    assert redis_client.llen("queue:default") == 250
    assert redis_client.zcard("schedule") == 0


def test_dead_retry_all(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 150, base=time.time() - 500, retry_count=25)

    moved = api.DeadSet(client).retry_all()

    assert moved == 150
    assert {job["retry_count"] for job in queue_jobs(redis_client, "default")} == {24}


def test_kill_all_moves_exact_bytes(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "retry", 230)
    before = set(redis_client.zrange("retry", 0, -1))

    moved = api.RetrySet(client).kill_all()

    assert moved == 230
    assert set(redis_client.zrange("dead", 0, -1)) == before
    assert redis_client.zcard("retry") == 0


def test_kill_all_trims_dead_set(redis_url: str, redis_client: redis.Redis) -> None:
    small = Client(redis_url, settings=Settings(dead_max_jobs=50))
    fill_set(redis_client, "retry", 120)

    try:
        moved = api.RetrySet(small).kill_all()
    finally:
        small.close()

    assert moved == 120
    assert redis_client.zcard("dead") == 50


def test_dead_kill_all_rejected(client: Client) -> None:
    with pytest.raises(TypeError):
        api.DeadSet(client).kill_all()


def test_dead_kill_trims_to_max(redis_url: str, redis_client: redis.Redis) -> None:
    small = Client(redis_url, settings=Settings(dead_max_jobs=5))
    dead = api.DeadSet(small)

    try:
        for index in range(8):
            dead.kill({"class": "HardJob", "args": [index], "jid": jid_for(index)})
    finally:
        small.close()

    kept = {orjson.loads(raw)["args"][0] for raw in redis_client.zrange("dead", 0, -1)}
    assert len(kept) == 5
    assert max(kept) == 7


def test_dead_kill_keeps_raw_bytes(client: Client, redis_client: redis.Redis) -> None:
    spaced = b'{"class": "X",  "args": []}'

    api.DeadSet(client).kill(spaced)

    assert redis_client.zrange("dead", 0, -1) == [spaced]


def test_dead_trim_drops_expired(redis_url: str, redis_client: redis.Redis) -> None:
    short = Client(redis_url, settings=Settings(dead_timeout=3600))
    redis_client.zadd("dead", {job_bytes(jid_for(1)): time.time() - 7200, job_bytes(jid_for(2)): time.time() - 60})

    try:
        api.DeadSet(short).trim()
    finally:
        short.close()

    assert [orjson.loads(raw)["jid"] for raw in redis_client.zrange("dead", 0, -1)] == [jid_for(2)]


def test_set_clear_returns_size(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "schedule", 4)

    assert api.ScheduledSet(client).clear() == 4
    assert redis_client.exists("schedule") == 0


def test_set_size_counts_entries(client: Client, redis_client: redis.Redis) -> None:
    fill_set(redis_client, "dead", 6)

    assert api.DeadSet(client).size == 6


def test_namespace_prefixes_every_key(redis_url: str, redis_client: redis.Redis) -> None:
    client_ns = Client(redis_url, settings=Settings(namespace="app"))
    redis_client.zadd("app:retry", {job_bytes(jid_for(1), queue="mail", retry_count=1): time.time()})

    try:
        entry = api.RetrySet(client_ns).find_job(jid_for(1))
        assert entry is not None
        entry.retry()
        queues = [queue.name for queue in api.Queue.all(client_ns)]
    finally:
        client_ns.close()

    assert redis_client.llen("app:queue:mail") == 1
    assert queues == ["mail"]
    assert redis_client.exists("queue:mail") == 0


# ------------------------------------------------------------------- Stats


def write_process(
    redis_client: redis.Redis, identity: str, *, busy: int = 0, info: dict[str, object] | None = None,
    quiet: str = "false", ttl: int = 60, **fields: object,
) -> None:
    hostname, pid, _ = identity.split(":")
    record = info if info is not None else {
        "hostname": hostname, "pid": int(pid), "started_at": time.time() - 300, "tag": "app", "concurrency": 5,
        "queues": ["default"], "labels": ["blue"], "identity": identity, "version": "7.3.9",
    }
    redis_client.sadd("processes", identity)
    redis_client.hset(identity, mapping={
        "info": orjson.dumps(record), "busy": busy, "beat": time.time(), "quiet": quiet, "rss": 51200,
        "rtt_us": 150, **fields,
    })
    redis_client.expire(identity, ttl)


def test_stats_counts_everything(client: Client, redis_client: redis.Redis) -> None:
    redis_client.set("stat:processed", 120)
    redis_client.set("stat:failed", 7)
    fill_set(redis_client, "schedule", 2)
    fill_set(redis_client, "retry", 3)
    fill_set(redis_client, "dead", 4)
    for index in range(5):
        client.enqueue("HardJob", index, queue="mail" if index % 2 else "default")
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", busy=2)
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb", busy=3)
    redis_client.sadd("processes", "gone:12:cccccccccccc")

    stats = api.Stats(client)

    assert stats.processed == 120
    assert stats.failed == 7
    assert stats.scheduled_size == 2
    assert stats.retry_size == 3
    assert stats.dead_size == 4
    assert stats.enqueued == 5
    assert stats.processes_size == 3
    assert stats.workers_size == 5


def test_stats_empty_redis(client: Client) -> None:
    stats = api.Stats(client)

    assert stats.as_dict() == {
        "processed": 0, "failed": 0, "scheduled_size": 0, "retry_size": 0, "dead_size": 0, "processes_size": 0,
        "default_queue_latency": 0.0, "enqueued": 0, "workers_size": 0,
    }


def test_stats_default_queue_latency(client: Client, redis_client: redis.Redis) -> None:
    redis_client.lpush("queue:default", job_bytes(jid_for(1), enqueued_at=int((time.time() - 90) * 1000)))

    assert 90 <= api.Stats(client).default_queue_latency < 3600


def test_stats_refresh_reads_again(client: Client, redis_client: redis.Redis) -> None:
    stats = api.Stats(client)
    assert stats.processed == 0
    redis_client.set("stat:processed", 5)

    assert stats.processed == 0
    assert stats.refresh().processed == 5


def test_stats_queues_largest_first(client: Client) -> None:
    for name, count in (("a", 1), ("b", 3), ("c", 2)):
        for index in range(count):
            client.enqueue("HardJob", index, queue=name)

    assert list(api.Stats(client).queues().items()) == [("b", 3), ("c", 2), ("a", 1)]


def test_stats_queue_summaries(client: Client, redis_client: redis.Redis) -> None:
    redis_client.sadd("queues", "mail", "default")
    redis_client.lpush("queue:mail", job_bytes(jid_for(1), enqueued_at=time.time() - 20))
    redis_client.sadd("paused", "mail")

    summaries = api.Stats(client).queue_summaries()

    assert [(summary.name, summary.size, summary.paused) for summary in summaries] == [
        ("default", 0, False), ("mail", 1, True),
    ]
    assert 20 <= summaries[1].latency < 3600


def test_stats_history_reads_daily_keys(client: Client, redis_client: redis.Redis) -> None:
    start = dt.date(2026, 3, 10)
    redis_client.set("stat:processed:2026-03-10", 40)
    redis_client.set("stat:processed:2026-03-08", 12)
    redis_client.set("stat:failed:2026-03-09", 3)

    history = api.Stats(client).history(3, start)

    assert history["processed"] == {
        dt.date(2026, 3, 10): 40, dt.date(2026, 3, 9): 0, dt.date(2026, 3, 8): 12,
    }
    assert history["failed"] == {dt.date(2026, 3, 10): 0, dt.date(2026, 3, 9): 3, dt.date(2026, 3, 8): 0}


def test_stats_history_accepts_datetime(client: Client, redis_client: redis.Redis) -> None:
    redis_client.set("stat:failed:2026-03-10", 2)
    start = dt.datetime(2026, 3, 10, 23, 30, tzinfo=dt.timezone.utc)

    history = api.Stats(client).history(1, start)

    assert history["failed"] == {dt.date(2026, 3, 10): 2}


def test_stats_history_defaults_to_week(client: Client) -> None:
    history = api.Stats(client).history()

    today = dt.datetime.now(dt.timezone.utc).date()
    assert list(history["processed"])[0] == today
    assert len(history["processed"]) == 7


@pytest.mark.parametrize("days", [0, -1, 1826, True, 2.5])
def test_stats_history_rejects_days(client: Client, days: object) -> None:
    with pytest.raises(ValueError, match="1825"):
        api.Stats(client).history(days)  # type: ignore[arg-type]


def test_stats_history_accepts_five_years(client: Client) -> None:
    assert len(api.Stats(client).history(1825)["failed"]) == 1825


def test_stats_reset_one_counter(client: Client, redis_client: redis.Redis) -> None:
    redis_client.set("stat:processed", 10)
    redis_client.set("stat:failed", 4)

    api.Stats(client).reset("failed")

    assert redis_client.get("stat:processed") == b"10"
    assert redis_client.get("stat:failed") == b"0"


def test_stats_reset_both_counters(client: Client, redis_client: redis.Redis) -> None:
    redis_client.set("stat:processed", 10)
    redis_client.set("stat:failed", 4)

    api.Stats(client).reset()

    assert redis_client.mget("stat:processed", "stat:failed") == [b"0", b"0"]


def test_stats_reset_unknown_counter(client: Client) -> None:
    with pytest.raises(ValueError, match="busy"):
        api.Stats(client).reset("busy")


def test_stats_redis_info(client: Client) -> None:
    info = api.Stats(client).redis_info()

    assert info["store"] in ("Redis", "Valkey")
    assert info["version"]


# --------------------------------------------------------------- processes


def test_process_set_reads_sidekiq7_record(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", busy=2, info={
        "hostname": "web-1", "pid": 10, "started_at": 1_700_000_000.5, "tag": "app", "concurrency": 5,
        "queues": ["critical", "default"], "weights": [{"critical": 2, "default": 1}], "labels": ["blue"],
        "identity": "web-1:10:aaaaaaaaaaaa", "version": "7.3.9", "embedded": False,
    })

    [process] = list(api.ProcessSet(client))

    assert process.identity == "web-1:10:aaaaaaaaaaaa"
    assert (process.hostname, process.pid, process.tag) == ("web-1", 10, "app")
    assert process.labels == ["blue"]
    assert process.queues == ["critical", "default"]
    assert process.weights == [{"critical": 2, "default": 1}]
    assert process.concurrency == 5
    assert process.busy == 2
    assert process.rss == 51200
    assert process.started_at == 1_700_000_000.5
    assert process.version == "7.3.9"
    assert process.stopping is False


def test_process_set_reads_sidekiq81_record(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", concurrency=12, quiet="true", info={
        "hostname": "web-1", "pid": 10, "started_at": 1_700_000_000_000, "tag": "app", "labels": [],
        "identity": "web-1:10:aaaaaaaaaaaa", "version": "8.1.7",
        "capsules": {
            "default": {"concurrency": 10, "mode": "weighted", "weights": {"default": 1, "mail": 3}},
            "single": {"concurrency": 2, "mode": "strict", "weights": {"serial": 0}},
        },
    })

    [process] = list(api.ProcessSet(client))

    assert process.concurrency == 12
    assert process.queues == ["default", "mail", "serial"]
    assert process.weights == [{"default": 1, "mail": 3}, {"serial": 0}]
    assert process.started_at == 1_700_000_000.0
    assert process.stopping is True


def test_process_concurrency_from_capsules(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", info={
        "hostname": "web-1", "pid": 10, "identity": "web-1:10:aaaaaaaaaaaa",
        "capsules": {"a": {"concurrency": 3, "weights": {"a": 0}}, "b": {"concurrency": 4, "weights": {"b": 0}}},
    })

    [process] = list(api.ProcessSet(client))

    assert process.concurrency == 7


def test_process_set_skips_expired(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb")
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    redis_client.sadd("processes", "gone:12:cccccccccccc")
    redis_client.sadd("processes", "bad:13:dddddddddddd")
    redis_client.hset("bad:13:dddddddddddd", "info", "not json")

    identities = [process.identity for process in api.ProcessSet(client)]

    assert identities == ["web-1:10:aaaaaaaaaaaa", "web-2:11:bbbbbbbbbbbb"]
    assert api.ProcessSet(client).size == 4


def test_process_set_get(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    processes = api.ProcessSet(client)

    found = processes.get("web-1:10:aaaaaaaaaaaa")

    assert found is not None
    assert found.pid == 10
    assert processes.get("web-9:99:eeeeeeeeeeee") is None


def test_process_set_totals(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb", concurrency=20)

    processes = api.ProcessSet(client)

    assert processes.total_concurrency == 25
    assert processes.total_rss == 102400


def test_process_cleanup_prunes_expired(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    redis_client.sadd("processes", "gone:12:cccccccccccc")

    removed = api.ProcessSet(client).cleanup()

    assert removed == 1
    assert redis_client.smembers("processes") == {b"web-1:10:aaaaaaaaaaaa"}
    assert 0 < redis_client.ttl("process_cleanup") <= 60


def test_process_cleanup_respects_lock(client: Client, redis_client: redis.Redis) -> None:
    redis_client.sadd("processes", "gone:12:cccccccccccc")
    redis_client.set("process_cleanup", "1", ex=60)

    assert api.ProcessSet(client).cleanup() == 0
    assert redis_client.scard("processes") == 1


def test_process_quiet_sends_tstp(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    [process] = list(api.ProcessSet(client))

    process.quiet()
    process.stop()

    assert redis_client.lrange("web-1:10:aaaaaaaaaaaa-signals", 0, -1) == [b"TERM", b"TSTP"]
    assert 0 < redis_client.ttl("web-1:10:aaaaaaaaaaaa-signals") <= 60


def test_process_unknown_signal_rejected(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    [process] = list(api.ProcessSet(client))

    with pytest.raises(ValueError, match="KILL"):
        process.signal("KILL")


def test_process_set_quiet_all(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb")
    redis_client.sadd("processes", "gone:12:cccccccccccc")

    assert api.ProcessSet(client).quiet_all() == 2
    assert redis_client.lrange("web-2:11:bbbbbbbbbbbb-signals", 0, -1) == [b"TSTP"]
    assert redis_client.exists("gone:12:cccccccccccc-signals") == 0


def test_process_set_stop_all(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa")

    assert api.ProcessSet(client).stop_all() == 1
    assert redis_client.lrange("web-1:10:aaaaaaaaaaaa-signals", 0, -1) == [b"TERM"]


# -------------------------------------------------------------------- work


def test_work_set_reads_busy_maps(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", busy=1)
    job = job_bytes(jid_for(1), queue="mail", enqueued_at=1_700_000_000_000)
    redis_client.hset("web-1:10:aaaaaaaaaaaa:work", "t1",
                      orjson.dumps({"queue": "mail", "payload": job.decode(), "run_at": 1_700_000_100}))
    # A Sidekiq 6.4 process: the `:workers` key, with the payload as an object.
    write_process(redis_client, "old-1:20:bbbbbbbbbbbb", busy=1)
    redis_client.hset("old-1:20:bbbbbbbbbbbb:workers", "t2", orjson.dumps(
        {"queue": "default", "payload": {"class": "OldJob", "args": [], "jid": jid_for(2)}, "run_at": 1_700_000_050}))
    # A process whose record expired: its busy map is stale.
    redis_client.sadd("processes", "gone:30:cccccccccccc")
    redis_client.hset("gone:30:cccccccccccc:work", "t3", orjson.dumps({"queue": "x", "payload": "{}", "run_at": 1}))

    running = list(api.WorkSet(client))

    assert [(identity, tid) for identity, tid, _ in running] == [
        ("old-1:20:bbbbbbbbbbbb", "t2"), ("web-1:10:aaaaaaaaaaaa", "t1"),
    ]
    work = running[1][2]
    assert work.queue == "mail"
    assert work.run_at == 1_700_000_100.0
    assert work.payload.raw == job
    assert work.payload.enqueued_at == 1_700_000_000.0
    assert running[0][2].payload.job_class == "OldJob"


def test_work_set_prefers_work_key(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", busy=1)
    entry = orjson.dumps({"queue": "q", "payload": job_bytes(jid_for(1)).decode(), "run_at": 1})
    redis_client.hset("web-1:10:aaaaaaaaaaaa:work", "t1", entry)
    redis_client.hset("web-1:10:aaaaaaaaaaaa:workers", "t1", entry)

    assert len(list(api.WorkSet(client))) == 1


def test_work_set_size_and_find(client: Client, redis_client: redis.Redis) -> None:
    write_process(redis_client, "web-1:10:aaaaaaaaaaaa", busy=2)
    write_process(redis_client, "web-2:11:bbbbbbbbbbbb", busy=1)
    redis_client.hset("web-1:10:aaaaaaaaaaaa:work", "t1",
                      orjson.dumps({"queue": "q", "payload": job_bytes(jid_for(4)).decode(), "run_at": 1}))

    works = api.WorkSet(client)

    assert works.size == 3
    found = works.find_work(jid_for(4))
    assert found is not None
    assert found.tid == "t1"
    assert works.find_work(jid_for(5)) is None


# --------------------------------------------------------- a real worker

JOBS_FILE = """
import time
import roadie

@roadie.job
def nap(seconds):
    time.sleep(seconds)
"""


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A roadie worker process on the test Redis, beating every 0.5 s; killed at the end if still running.

    Its log goes to ``worker.log`` in ``tmp_path``, which failing asserts show.
    """
    jobs = tmp_path / "admin_jobs.py"
    jobs.write_text(JOBS_FILE)
    env = {**os.environ, "ROADIE_HEARTBEAT_INTERVAL": "0.5", "ROADIE_TIMEOUT": "5"}
    env.pop("ROADIE_CONFIG", None)
    with open(tmp_path / "worker.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "roadie", "worker", "--redis-url", redis_url, "-r", str(jobs), "-c", "2"],
            cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def worker_log(tmp_path: Path) -> str:
    return (tmp_path / "worker.log").read_text(errors="replace")[-3000:]


def live_processes(client: Client) -> list[api.Process]:
    return list(api.ProcessSet(client))


def test_real_worker_quiet_and_stop(client: Client, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    assert wait_until(lambda: len(live_processes(client)) == 1), worker_log(tmp_path)
    [process] = live_processes(client)
    assert process.pid == worker.pid
    assert process.concurrency == 2
    assert process.stopping is False

    process.quiet()
    assert wait_until(lambda: live_processes(client)[0].stopping), worker_log(tmp_path)

    process.stop()
    assert wait_until(lambda: worker.poll() is not None), worker_log(tmp_path)
    assert worker.returncode == 0
    assert live_processes(client) == []


def test_real_worker_shows_running_job(client: Client, worker: subprocess.Popen[bytes], tmp_path: Path) -> None:
    assert wait_until(lambda: len(live_processes(client)) == 1), worker_log(tmp_path)
    jid = client.enqueue("admin_jobs.nap", 30)

    assert wait_until(lambda: api.WorkSet(client).find_work(jid) is not None), worker_log(tmp_path)
    work = api.WorkSet(client).find_work(jid)
    assert work is not None
    assert work.identity == live_processes(client)[0].identity
    assert work.queue == "default"
    assert work.payload.args == [30]
    assert api.Stats(client).workers_size == 1
