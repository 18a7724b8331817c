"""Tests for Client and AsyncClient against a real Redis server."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import redis

from roadie.client import AsyncClient, Client
from roadie.config import Settings
from roadie.errors import JobArgumentError, RedisUnavailableError
from roadie.middleware import Chain

JID = re.compile(r"[0-9a-f]{24}")


@pytest.fixture
def client(redis_url: str) -> Iterator[Client]:
    """A client with default settings and an empty middleware chain of its own."""
    instance = Client(redis_url, settings=Settings(), middleware=Chain())
    try:
        yield instance
    finally:
        instance.close()


def make_async_client(url: str, **kwargs: Any) -> AsyncClient:
    kwargs.setdefault("middleware", Chain())
    return AsyncClient(url, settings=Settings(), **kwargs)


def queued_jobs(redis_client: redis.Redis, queue: str = "default", key: str | None = None) -> list[dict[str, Any]]:
    """Return the jobs in a queue list, oldest first."""
    raw = redis_client.lrange(key or f"queue:{queue}", 0, -1)
    return [orjson.loads(item) for item in reversed(raw)]


def scheduled_jobs(redis_client: redis.Redis, key: str = "schedule") -> list[tuple[dict[str, Any], float]]:
    return [(orjson.loads(member), score) for member, score in redis_client.zrange(key, 0, -1, withscores=True)]


def closed_port() -> int:
    """Return a loopback port that nothing listens on: bound once, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------------- push


def test_push_writes_queue_and_set(client: Client, redis_client: redis.Redis) -> None:
    before = time.time()

    jid = client.push({"class": "HardJob", "args": [1, "two", {"three": 3}]})

    after = time.time()
    assert jid is not None
    assert JID.fullmatch(jid)
    assert redis_client.smembers("queues") == {b"default"}
    [job] = queued_jobs(redis_client)
    assert job["class"] == "HardJob"
    assert job["args"] == [1, "two", {"three": 3}]
    assert job["jid"] == jid
    assert job["queue"] == "default"
    assert job["retry"] is True
    assert isinstance(job["created_at"], float)
    assert isinstance(job["enqueued_at"], float)
    assert before <= job["created_at"] <= job["enqueued_at"] <= after


def test_push_named_queue(client: Client, redis_client: redis.Redis) -> None:
    client.push({"class": "HardJob", "args": [], "queue": "critical", "retry": 3})

    assert redis_client.smembers("queues") == {b"critical"}
    assert redis_client.llen("queue:default") == 0
    [job] = queued_jobs(redis_client, "critical")
    assert job["queue"] == "critical"
    assert job["retry"] == 3


def test_push_keeps_order_fifo(client: Client, redis_client: redis.Redis) -> None:
    for number in range(3):
        client.push({"class": "HardJob", "args": [number]})

    # Workers take from the right end, so the first push is rightmost.
    assert [job["args"] for job in queued_jobs(redis_client)] == [[0], [1], [2]]


def test_push_keeps_unknown_keys(client: Client, redis_client: redis.Redis) -> None:
    client.push({"class": "HardJob", "args": [], "bid": "batch-1", "unique_for": 60, "custom": {"a": [1]}})

    [job] = queued_jobs(redis_client)
    assert job["bid"] == "batch-1"
    assert job["unique_for"] == 60
    assert job["custom"] == {"a": [1]}


def test_push_keeps_given_jid(client: Client, redis_client: redis.Redis) -> None:
    jid = client.push({"class": "HardJob", "args": [], "jid": "0123456789abcdef01234567"})

    assert jid == "0123456789abcdef01234567"
    assert queued_jobs(redis_client)[0]["jid"] == jid


def test_push_kwargs_object(client: Client, redis_client: redis.Redis) -> None:
    client.push({"class": "py.job", "args": [1], "kwargs": {"user_id": 7}})

    assert queued_jobs(redis_client)[0]["kwargs"] == {"user_id": 7}


def test_push_future_at_schedules(client: Client, redis_client: redis.Redis) -> None:
    at = time.time() + 3600

    jid = client.push({"class": "HardJob", "args": [1], "at": at, "enqueued_at": 1.0})

    assert redis_client.exists("queues", "queue:default") == 0
    [(job, score)] = scheduled_jobs(redis_client)
    assert score == at
    assert job["jid"] == jid
    assert "at" not in job
    assert "enqueued_at" not in job


def test_push_future_datetime_at(client: Client, redis_client: redis.Redis) -> None:
    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)

    client.push({"class": "HardJob", "args": [], "at": at})

    [(job, score)] = scheduled_jobs(redis_client)
    assert score == at.timestamp()
    assert "at" not in job


def test_push_past_at_enqueues_now(client: Client, redis_client: redis.Redis) -> None:
    jid = client.push({"class": "HardJob", "args": [], "at": time.time() - 10})

    assert redis_client.zcard("schedule") == 0
    [job] = queued_jobs(redis_client)
    assert job["jid"] == jid
    assert "at" not in job
    assert isinstance(job["enqueued_at"], float)


def test_push_invalid_at_rejected(client: Client, redis_client: redis.Redis) -> None:
    with pytest.raises(JobArgumentError, match="invalid 'at'"):
        client.push({"class": "HardJob", "args": [], "at": "tomorrow"})

    assert redis_client.dbsize() == 0


def test_enqueue_by_class_name(client: Client, redis_client: redis.Redis) -> None:
    client.enqueue("Mailer", "welcome", 42, queue="mailers")

    [job] = queued_jobs(redis_client, "mailers")
    assert job["class"] == "Mailer"
    assert job["args"] == ["welcome", 42]


# ----------------------------------------------------------------- push_bulk


def test_push_bulk_enqueues_each(client: Client, redis_client: redis.Redis) -> None:
    jids = client.push_bulk({"class": "HardJob", "args": [[1], [2], [3]], "queue": "bulk"})

    jobs = queued_jobs(redis_client, "bulk")
    assert [job["args"] for job in jobs] == [[1], [2], [3]]
    assert [job["jid"] for job in jobs] == jids
    assert len(set(jids)) == 3


def test_push_bulk_one_at(client: Client, redis_client: redis.Redis) -> None:
    at = time.time() + 600

    jids = client.push_bulk({"class": "HardJob", "args": [[1], [2]], "at": at})

    entries = scheduled_jobs(redis_client)
    assert sorted(job["jid"] for job, _ in entries) == sorted(jids)
    assert [score for _, score in entries] == [at, at]


def test_push_bulk_at_per_job(client: Client, redis_client: redis.Redis) -> None:
    base = time.time() + 600

    jids = client.push_bulk({"class": "HardJob", "args": [[1], [2], [3]], "at": [base, base + 1, base + 2]})

    entries = scheduled_jobs(redis_client)
    assert [job["jid"] for job, _ in entries] == jids
    assert [job["args"] for job, _ in entries] == [[1], [2], [3]]
    assert [score for _, score in entries] == [base, base + 1, base + 2]


def test_push_bulk_at_count_mismatch(client: Client, redis_client: redis.Redis) -> None:
    with pytest.raises(JobArgumentError, match="2 times for 3 jobs"):
        client.push_bulk({"class": "HardJob", "args": [[1], [2], [3]], "at": [1.0, 2.0]})

    assert redis_client.dbsize() == 0


def test_push_bulk_rejects_flat_args(client: Client) -> None:
    with pytest.raises(JobArgumentError, match="list of argument lists"):
        client.push_bulk({"class": "HardJob", "args": [1, 2]})


def test_push_bulk_rejects_jid(client: Client) -> None:
    with pytest.raises(JobArgumentError, match="jid"):
        client.push_bulk({"class": "HardJob", "args": [[1]], "jid": "0123456789abcdef01234567"})


def test_push_many_checks_shared_value_once(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from roadie import payload

    calls: list[str] = []
    original = payload.option_problem
    monkeypatch.setattr(payload, "option_problem", lambda name, value: calls.append(name) or original(name, value))
    client.push_many([{"class": "HardJob", "args": [number], "queue": "bulk"} for number in range(5)])

    assert calls.count("queue") == 1
    assert calls.count("retry") == 1


def test_push_many_checks_shared_dict_each_time(client: Client, redis_client: redis.Redis) -> None:
    meta: dict[str, Any] = {}

    def jobs() -> Iterator[dict[str, Any]]:
        for number in range(3):
            yield {"class": "HardJob", "args": [number], "meta": meta}
            meta["when"] = dt.datetime(2026, 1, 1)

    with pytest.raises(JobArgumentError, match=r"meta\['when'\]: datetime"):
        client.push_many(jobs())

    assert redis_client.dbsize() == 0


def test_push_many_checks_each_new_value(client: Client, redis_client: redis.Redis) -> None:
    jobs = [{"class": "HardJob", "args": [1], "queue": "fine"}, {"class": "HardJob", "args": [2], "queue": "bad name"}]

    with pytest.raises(JobArgumentError, match="bad name"):
        client.push_many(jobs)

    assert redis_client.dbsize() == 0


def test_push_bulk_2500_jobs_land(client: Client, redis_client: redis.Redis) -> None:
    redis_client.config_resetstat()

    jids = client.push_bulk({"class": "HardJob", "args": [[number] for number in range(2500)]})

    assert len(jids) == 2500
    assert len(set(jids)) == 2500
    assert redis_client.llen("queue:default") == 2500
    # One LPUSH per batch of at most 1,000 jobs: 1000 + 1000 + 500.
    assert redis_client.info("commandstats")["cmdstat_lpush"]["calls"] == 3
    assert [job["args"][0] for job in queued_jobs(redis_client)] == list(range(2500))


def test_push_many_mixed_queues(client: Client, redis_client: redis.Redis) -> None:
    client.push_many([{"class": "A", "args": [], "queue": "one"}, {"class": "B", "args": [], "queue": "two"}])

    assert redis_client.smembers("queues") == {b"one", b"two"}
    assert queued_jobs(redis_client, "one")[0]["class"] == "A"
    assert queued_jobs(redis_client, "two")[0]["class"] == "B"


# ---------------------------------------------------------------- middleware


def stop_job(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> None:
    return None


def add_tenant(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
    job["tenant"] = "acme"
    return call_next()


def test_middleware_stops_push(redis_url: str, redis_client: redis.Redis) -> None:
    with Client(redis_url, settings=Settings(), middleware=Chain([stop_job])) as client:
        jid = client.push({"class": "HardJob", "args": []})

    assert jid is None
    assert redis_client.dbsize() == 0


def test_middleware_stops_bulk_items(redis_url: str, redis_client: redis.Redis) -> None:
    def stop_odd(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        return None if job["args"][0] % 2 else call_next()

    with Client(redis_url, settings=Settings(), middleware=Chain([stop_odd])) as client:
        jids = client.push_bulk({"class": "HardJob", "args": [[0], [1], [2]]})

    assert jids[1] is None
    assert jids[0] is not None
    assert [job["args"] for job in queued_jobs(redis_client)] == [[0], [2]]


def test_middleware_adds_key(redis_url: str, redis_client: redis.Redis) -> None:
    with Client(redis_url, settings=Settings(), middleware=Chain([add_tenant])) as client:
        client.push({"class": "HardJob", "args": []})

    assert queued_jobs(redis_client)[0]["tenant"] == "acme"


def test_middleware_sees_normalized_job(redis_url: str) -> None:
    seen: list[tuple[dict[str, Any], str]] = []

    def record(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        seen.append((dict(job), queue))
        return call_next()

    at = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    with Client(redis_url, settings=Settings(), middleware=Chain([record])) as client:
        jid = client.push({"class": "HardJob", "args": [], "queue": "low", "at": at})

    [(job, queue)] = seen
    assert queue == "low"
    assert job["jid"] == jid
    assert job["at"] == at.timestamp()


# -------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("job", "field"),
    [
        ({"args": []}, "'class'"),
        ({"class": "", "args": []}, "'class'"),
        ({"class": "A"}, "'args'"),
        ({"class": "A", "args": (1, 2)}, "'args'"),
        ({"class": "A", "args": [1, {"when": dt.date(2024, 1, 1)}]}, "args[1]['when']"),
        ({"class": "A", "args": [], "kwargs": [1]}, "'kwargs'"),
        ({"class": "A", "args": [], "kwargs": {"x": {1, 2}}}, "kwargs['x']"),
        ({"class": "A", "args": [], "queue": "bad queue"}, "'queue'"),
        ({"class": "A", "args": [], "retry": "often"}, "'retry'"),
        ({"class": "A", "args": [], "retry": -1}, "'retry'"),
        ({"class": "A", "args": [], "jid": 12}, "'jid'"),
        ({"class": "A", "args": [], "custom": b"bytes"}, "custom"),
    ],
)
def test_push_invalid_hash_rejected(
    client: Client, redis_client: redis.Redis, job: dict[str, Any], field: str
) -> None:
    with pytest.raises(JobArgumentError) as info:
        client.push(job)

    assert field in str(info.value)
    assert redis_client.dbsize() == 0


def test_push_rejects_non_dict(client: Client) -> None:
    with pytest.raises(JobArgumentError, match="must be a dict"):
        client.push([1, 2])  # type: ignore[arg-type]


def test_job_argument_error_is_typeerror(client: Client) -> None:
    with pytest.raises(TypeError):
        client.push({"class": "A", "args": "x"})


# ----------------------------------------------------------------- namespace


def test_namespace_prefixes_every_key(redis_url: str, redis_client: redis.Redis) -> None:
    with Client(redis_url, settings=Settings(), namespace="myapp", middleware=Chain()) as client:
        client.push({"class": "A", "args": []})
        client.push({"class": "B", "args": [], "at": time.time() + 600})

    assert sorted(redis_client.keys("*")) == [b"myapp:queue:default", b"myapp:queues", b"myapp:schedule"]


def test_namespace_from_settings(redis_url: str, redis_client: redis.Redis) -> None:
    with Client(redis_url, settings=Settings(namespace="fromsettings"), middleware=Chain()) as client:
        client.push({"class": "A", "args": []})

    assert redis_client.llen("fromsettings:queue:default") == 1


# -------------------------------------------------------- Redis unreachable


def test_unreachable_redis_error() -> None:
    port = closed_port()

    with Client(f"redis://:s3cret@127.0.0.1:{port}/0", settings=Settings(), middleware=Chain()) as client:
        with pytest.raises(RedisUnavailableError) as info:
            client.push({"class": "A", "args": []})

    message = str(info.value)
    assert "s3cret" not in message
    assert f"redis://:***@127.0.0.1:{port}/0" in message


def test_invalid_url_error_redacted() -> None:
    with Client("redis://:s3cret@127.0.0.1:notaport/0", settings=Settings(), middleware=Chain()) as client:
        with pytest.raises(RedisUnavailableError) as info:
            client.push({"class": "A", "args": []})

    assert "s3cret" not in str(info.value)
    assert "invalid Redis URL" in str(info.value)


def test_client_repr_redacts_password() -> None:
    client = Client("redis://:s3cret@127.0.0.1:1/0", settings=Settings())

    assert "s3cret" not in repr(client)
    assert "***" in repr(client)


def test_client_reconnects_after_close(client: Client, redis_client: redis.Redis) -> None:
    client.push({"class": "A", "args": []})
    client.close()

    client.push({"class": "A", "args": []})

    assert redis_client.llen("queue:default") == 2


# ------------------------------------------------------------- AsyncClient


def test_async_push_writes_queue(redis_url: str, redis_client: redis.Redis) -> None:
    async def main() -> str | None:
        async with make_async_client(redis_url) as client:
            return await client.push({"class": "HardJob", "args": [1], "queue": "async"})

    jid = asyncio.run(main())

    assert jid is not None
    assert JID.fullmatch(jid)
    assert redis_client.smembers("queues") == {b"async"}
    [job] = queued_jobs(redis_client, "async")
    assert job["jid"] == jid
    assert job["args"] == [1]
    assert isinstance(job["enqueued_at"], float)


def test_async_push_future_at(redis_url: str, redis_client: redis.Redis) -> None:
    at = time.time() + 600

    async def main() -> str | None:
        async with make_async_client(redis_url) as client:
            return await client.push({"class": "HardJob", "args": [], "at": at})

    jid = asyncio.run(main())

    [(job, score)] = scheduled_jobs(redis_client)
    assert job["jid"] == jid
    assert score == at
    assert "enqueued_at" not in job


def test_async_push_bulk_lands(redis_url: str, redis_client: redis.Redis) -> None:
    async def main() -> list[str | None]:
        async with make_async_client(redis_url) as client:
            return await client.push_bulk({"class": "HardJob", "args": [[n] for n in range(1500)]})

    jids = asyncio.run(main())

    assert len(set(jids)) == 1500
    assert redis_client.llen("queue:default") == 1500


def test_async_push_bulk_at_list(redis_url: str, redis_client: redis.Redis) -> None:
    base = time.time() + 600

    async def main() -> list[str | None]:
        async with make_async_client(redis_url) as client:
            return await client.push_bulk({"class": "HardJob", "args": [[1], [2]], "at": [base, base + 5]})

    jids = asyncio.run(main())

    entries = scheduled_jobs(redis_client)
    assert [job["jid"] for job, _ in entries] == jids
    assert [score for _, score in entries] == [base, base + 5]


def test_async_middleware_sync_and_async(redis_url: str, redis_client: redis.Redis) -> None:
    async def async_stop_low(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        if queue == "low":
            return None
        return await call_next()

    async def main() -> list[str | None]:
        chain = Chain([add_tenant, async_stop_low])
        async with make_async_client(redis_url, middleware=chain) as client:
            kept = await client.push({"class": "A", "args": []})
            stopped = await client.push({"class": "A", "args": [], "queue": "low"})
            return [kept, stopped]

    kept, stopped = asyncio.run(main())

    assert kept is not None
    assert stopped is None
    [job] = queued_jobs(redis_client)
    assert job["tenant"] == "acme"
    assert redis_client.exists("queue:low") == 0


def test_async_invalid_hash_rejected(redis_url: str, redis_client: redis.Redis) -> None:
    async def main() -> None:
        async with make_async_client(redis_url) as client:
            await client.push({"class": "A", "args": [], "retry": "often"})

    with pytest.raises(JobArgumentError, match="'retry'"):
        asyncio.run(main())

    assert redis_client.dbsize() == 0


def test_async_namespace_prefixes_keys(redis_url: str, redis_client: redis.Redis) -> None:
    async def main() -> None:
        async with make_async_client(redis_url, namespace="myapp") as client:
            await client.push({"class": "A", "args": []})

    asyncio.run(main())

    assert sorted(redis_client.keys("*")) == [b"myapp:queue:default", b"myapp:queues"]


def test_async_unreachable_redis_error() -> None:
    url = f"redis://user:s3cret@127.0.0.1:{closed_port()}/0"

    async def main() -> None:
        async with make_async_client(url) as client:
            await client.push({"class": "A", "args": []})

    with pytest.raises(RedisUnavailableError) as info:
        asyncio.run(main())

    message = str(info.value)
    assert "s3cret" not in message
    assert "redis://user:***@127.0.0.1:" in message


# ------------------------------------------------------------ read-only server


@pytest.fixture
def replica_url() -> Iterator[str]:
    """A private Redis made a replica of an address where nothing listens, so it rejects writes."""
    from roadie.storage.embedded import EmbeddedRedis

    with EmbeddedRedis() as server:
        admin = redis.Redis.from_url(server.url)
        admin.execute_command("REPLICAOF", "127.0.0.1", "1")
        admin.close()
        yield server.url


def test_push_to_replica_raises_unavailable(replica_url: str) -> None:
    with Client(replica_url) as client:
        with pytest.raises(RedisUnavailableError, match="read-only"):
            client.push({"class": "HardJob", "args": [1]})
        with pytest.raises(RedisUnavailableError, match="read-only"):
            client.push({"class": "HardJob", "args": [1], "at": time.time() + 60})
        with pytest.raises(RedisUnavailableError, match="read-only"):
            client.push_bulk({"class": "HardJob", "args": [[1], [2]]})


def test_async_push_to_replica_raises_unavailable(replica_url: str) -> None:
    async def pushes() -> None:
        async with AsyncClient(replica_url) as client:
            with pytest.raises(RedisUnavailableError, match="read-only"):
                await client.push({"class": "HardJob", "args": [1]})
            with pytest.raises(RedisUnavailableError, match="read-only"):
                await client.push_bulk({"class": "HardJob", "args": [[1], [2]]})

    asyncio.run(pushes())


# ------------------------------------------------------------ Ruby's floats


def test_push_writes_floats_as_ruby(client: Client, redis_client: redis.Redis) -> None:
    client.push({"class": "HardJob", "args": [1e-7, 0.5]})
    client.push_bulk({"class": "HardJob", "args": [[1.5e15], [2.0]]})

    raws = redis_client.lrange("queue:default", 0, -1)

    assert any(b"[1.0e-07,0.5]" in raw for raw in raws)
    assert any(b"[1.5e+15]" in raw for raw in raws)
    assert any(b"[2.0]" in raw for raw in raws)


def test_push_with_middleware_writes_floats_as_ruby(redis_url: str, redis_client: redis.Redis) -> None:
    chain = Chain()

    def add_ratio(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        job["ratio"] = 2.5e-6
        return call_next()

    chain.add(add_ratio)
    with Client(redis_url, middleware=chain) as client:
        client.push_bulk({"class": "HardJob", "args": [[1], [2]]})

    assert all(b'"ratio":2.5e-06' in raw for raw in redis_client.lrange("queue:default", 0, -1))


def test_push_after_redis_restart_reconnects() -> None:
    from roadie.storage.embedded import EmbeddedRedis

    with EmbeddedRedis() as server, Client(server.url) as client:
        client.push({"class": "HardJob", "args": [1]})
        # The pooled connection now points at a closed socket.
        server.restart()

        client.push({"class": "HardJob", "args": [2]})
        client.push_bulk({"class": "HardJob", "args": [[3], [4]]})

        assert client.connection.llen("queue:default") == 3
