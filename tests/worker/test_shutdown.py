"""Shutdown, signals, the heartbeat record and crash recovery, on real worker processes."""

from __future__ import annotations

import signal
import time

import orjson

import roadie
from roadie.storage.keys import Keys


def _started(run, label: str) -> bool:
    return any(line[:2] == ["sleepy-start", label] for line in run.lines())


def _identity(redis_client) -> str:
    (identity,) = redis_client.smembers("processes")
    return identity.decode()


def test_term_pushes_running_job_back(start_worker, worker_jobs, redis_url, redis_client) -> None:
    with roadie.Client(redis_url) as client:
        worker_jobs.sleepy.set(client=client).perform_async(60, "long")
    (original,) = redis_client.lrange("queue:default", 0, -1)

    run = start_worker("-t", "2")
    run.wait_for(lambda: _started(run, "long"), what="the job to start")
    identity = _identity(redis_client)
    run.signal(signal.SIGTERM)

    assert run.process.wait(2 + 5) == 0, run.output()
    assert redis_client.lrange("queue:default", 0, -1) == [original]
    assert b"default" in redis_client.smembers("queues")
    assert redis_client.llen(Keys().inprogress(identity, "default")) == 0
    assert identity.encode() not in redis_client.smembers("roadie:fetchers")
    assert identity.encode() not in redis_client.smembers("processes")
    assert "pushing 1 running jobs back" in run.output()


def test_second_term_stops_at_once(start_worker, worker_jobs, redis_url, redis_client) -> None:
    with roadie.Client(redis_url) as client:
        worker_jobs.sleepy.set(client=client).perform_async(60, "long")

    run = start_worker("-t", "60")
    run.wait_for(lambda: _started(run, "long"), what="the job to start")
    run.signal(signal.SIGTERM)
    run.wait_for(lambda: "shutting down" in run.output(), what="shutdown to begin")
    run.signal(signal.SIGTERM)

    assert run.process.wait(15) == 0, run.output()
    assert redis_client.llen("queue:default") == 1


def test_finished_job_is_not_requeued(start_worker, worker_jobs, redis_url, redis_client) -> None:
    with roadie.Client(redis_url) as client:
        worker_jobs.sleepy.set(client=client).perform_async(0.5, "short")

    run = start_worker("-t", "10")
    run.wait_for(lambda: _started(run, "short"), what="the job to start")
    run.signal(signal.SIGTERM)

    assert run.process.wait(15) == 0, run.output()
    assert ["sleepy-done", "short"] in run.lines()
    assert redis_client.llen("queue:default") == 0


def test_sigkill_job_runs_again(start_worker, worker_jobs, redis_url, redis_client) -> None:
    with roadie.Client(redis_url) as client:
        worker_jobs.sleepy.set(client=client).perform_async(1, "killed")

    first = start_worker()
    first.wait_for(lambda: _started(first, "killed"), what="the job to start")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)

    # Same host, PID gone: the new worker returns the job at once.
    second = start_worker("--burst")
    assert second.process.wait(60) == 0, second.output()
    assert [line for line in second.lines() if line[0] == "sleepy-done"] == [["sleepy-done", "killed"]]
    assert "returned 1 in-progress job of stopped process" in second.output()
    # The killed process's record went with its jobs, so status pages stop listing it.
    assert redis_client.smembers("processes") == set()


def test_recovery_skips_live_process(start_worker, worker_jobs, redis_client) -> None:
    keys = Keys()
    live = "elsewhere:1:aaaaaaaaaaaa"
    gone = "elsewhere:2:bbbbbbbbbbbb"
    for identity in (live, gone):
        redis_client.sadd(keys.fetchers, identity)
        redis_client.sadd(keys.inprogress_queues(identity), "default")
        job = {"class": "Noop", "args": [identity], "jid": "0" * 24, "queue": "default", "retry": True}
        redis_client.lpush(keys.inprogress(identity, "default"), orjson.dumps(job))
    redis_client.hset(keys.process(live), mapping={"beat": repr(time.time())})

    run = start_worker("--burst")
    assert run.process.wait(60) == 0, run.output()

    assert [line for line in run.lines() if line[0] == "noop"] == [["noop", gone]]
    assert redis_client.llen(keys.inprogress(live, "default")) == 1
    assert redis_client.sismember(keys.fetchers, live)
    assert not redis_client.sismember(keys.fetchers, gone)


def test_heartbeat_publishes_busy_job(start_worker, worker_jobs, redis_url, redis_client) -> None:
    with roadie.Client(redis_url) as client:
        worker_jobs.sleepy.set(client=client).perform_async(30, "busy")

    run = start_worker("-c", "3", "-q", "default", "-g", "billing", "-t", "1",
                       env={"ROADIE_HEARTBEAT_INTERVAL": "1"})
    run.wait_for(lambda: _started(run, "busy"), what="the job to start")
    identity = _identity(redis_client)
    run.wait_for(lambda: redis_client.hget(identity, "busy") == b"1", timeout=15, what="busy count 1")

    record = redis_client.hgetall(identity)
    info = orjson.loads(record[b"info"])
    assert info["identity"] == identity
    assert info["pid"] == run.process.pid
    assert info["queues"] == ["default"]
    # Three threads plus three event-loop slots: the jobs module defines an async job too.
    assert info["concurrency"] == 6
    assert info["tag"] == "billing"
    assert record[b"quiet"] == b"false"
    assert int(record[b"rss"]) > 0
    assert 0 < redis_client.ttl(identity) <= 60
    (work,) = redis_client.hvals(f"{identity}:work")
    entry = orjson.loads(work)
    assert entry["queue"] == "default"
    assert orjson.loads(entry["payload"])["args"] == [30, "busy"]


def test_remote_quiet_and_stop(start_worker, worker_jobs, redis_url, redis_client) -> None:
    run = start_worker(env={"ROADIE_HEARTBEAT_INTERVAL": "1"})
    run.wait_for(lambda: redis_client.scard("processes") == 1, what="worker registration")
    identity = _identity(redis_client)

    redis_client.lpush(f"{identity}-signals", "TSTP")
    run.wait_for(lambda: redis_client.hget(identity, "quiet") == b"true", timeout=15, what="quiet")
    with roadie.Client(redis_url) as client:
        worker_jobs.noop.set(client=client).perform_async(1)
    redis_client.lpush(f"{identity}-signals", "TERM")

    assert run.process.wait(20) == 0, run.output()
    assert [line for line in run.lines() if line[0] == "noop"] == []
    assert redis_client.llen("queue:default") == 1


def test_tstp_quiets_and_ttin_dumps(start_worker, worker_jobs, redis_url, redis_client) -> None:
    run = start_worker(env={"ROADIE_HEARTBEAT_INTERVAL": "1"})
    run.wait_for(lambda: "ready: fetching jobs" in run.output(), what="the worker to start")
    identity = _identity(redis_client)

    run.signal(signal.SIGTTIN)
    run.wait_for(lambda: "thread roadie.fetcher" in run.output(), what="the thread dump")
    run.signal(signal.SIGTSTP)
    run.wait_for(lambda: redis_client.hget(identity, "quiet") == b"true", timeout=15, what="quiet")
    with roadie.Client(redis_url) as client:
        worker_jobs.noop.set(client=client).perform_async(1)
    run.signal(signal.SIGTERM)

    assert run.process.wait(20) == 0, run.output()
    assert "thread roadie.heartbeat" in run.output()
    assert redis_client.llen("queue:default") == 1
