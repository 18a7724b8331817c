"""Execution metrics flushed by the worker, in Sidekiq 8's keys."""

from __future__ import annotations

import datetime as dt

import roadie
from roadie.storage.keys import Keys
from roadie.worker.metrics import HISTOGRAM_BOUNDS_MS, Metrics


@roadie.job(name="Metrics.Ok")
def ok() -> None:
    pass


@roadie.job(name="Metrics.Fail", retry=False)
def fail() -> None:
    raise ValueError("no")


def test_worker_flushes_counts(redis_url, redis_client, run_burst) -> None:
    with roadie.Client(redis_url) as client:
        ok.set(client=client).perform_bulk([[] for _ in range(3)])
        fail.set(client=client).perform_async()

    run_burst()

    # A flush may straddle a minute, so add up every per-minute hash.
    minute_keys = [key for key in redis_client.scan_iter("j|*") if len(key.decode().rsplit(":", 1)[1]) == 2]
    totals: dict[bytes, int] = {}
    for key in minute_keys:
        for field, value in redis_client.hgetall(key).items():
            totals[field] = totals.get(field, 0) + int(value)
        assert 0 < redis_client.ttl(key) <= 8 * 3600
    assert totals[b"Metrics.Ok|p"] == 3
    assert b"Metrics.Ok|f" not in totals
    assert totals[b"Metrics.Fail|p"] == 1
    assert totals[b"Metrics.Fail|f"] == 1
    histograms = {key.decode().split("-")[0] for key in redis_client.scan_iter("h|*")}
    assert histograms == {"h|Metrics.Fail", "h|Metrics.Ok"}


def test_flush_writes_sidekiq_key_names(redis_client) -> None:
    metrics = Metrics()
    metrics.track("HardJob", 0.010, failed=False)
    metrics.track("HardJob", 0.050, failed=False)
    metrics.track("HardJob", 400.0, failed=True)
    moment = dt.datetime(2026, 2, 3, 8, 47, tzinfo=dt.timezone.utc)

    metrics.flush(redis_client, Keys(), moment)

    minute = redis_client.hgetall("j|260203|8:47")
    assert minute == {b"HardJob|p": b"3", b"HardJob|f": b"1", b"HardJob|ms": b"60"}
    assert redis_client.hgetall("j|260203|8:4") == minute
    buckets = redis_client.execute_command(
        "BITFIELD", "h|HardJob-3-8:47", *[part for index in range(26) for part in ("GET", "u16", f"#{index}")]
    )
    assert buckets[0] == 1  # 10 ms < 20 ms
    assert buckets[HISTOGRAM_BOUNDS_MS.index(65)] == 1  # 45 ms <= 50 ms < 65 ms
    assert buckets[25] == 1  # 400 s is slower than every bound


def test_flush_with_nothing_tracked_writes_nothing(redis_client) -> None:
    Metrics().flush(redis_client, Keys())
    assert redis_client.dbsize() == 0
