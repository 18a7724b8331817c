"""Tests for roadie.api.Metrics, reading keys written by the worker's metrics flush."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import redis

from roadie import api
from roadie.api.metrics import HISTOGRAM_BOUNDS_MS
from roadie.client import Client
from roadie.storage.keys import Keys
from roadie.worker import metrics as worker_metrics

# The end of every queried period; seeded moments are minutes before it.
AT = dt.datetime(2026, 3, 5, 9, 7, 30, tzinfo=dt.timezone.utc)


def minutes_before(minutes: float) -> dt.datetime:
    return AT - dt.timedelta(minutes=minutes)


def flush(connection: redis.Redis, moment: dt.datetime, runs: list[tuple[str, float, bool]],
          keys: Keys | None = None) -> None:
    """Track ``(name, seconds, failed)`` runs and flush them as a worker's heartbeat at ``moment`` would."""
    recorder = worker_metrics.Metrics()
    for name, seconds, failed in runs:
        recorder.track(name, seconds, failed)
    recorder.flush(connection, keys or Keys(), moment)


@pytest.fixture
def client(redis_url: str) -> Iterator[Client]:
    with Client(redis_url) as roadie_client:
        yield roadie_client


@pytest.fixture
def seeded(redis_client: redis.Redis) -> None:
    """Runs in the current minute, 30 minutes ago, 3 hours ago and 20 hours ago."""
    flush(redis_client, AT, [("Report", 2.0, False), ("Mailer", 0.05, False), ("Mailer", 0.01, True)])
    flush(redis_client, minutes_before(30), [("Report", 4.0, False), ("Mailer", 0.1, False)])
    flush(redis_client, minutes_before(180), [("Mailer", 0.2, False)])
    flush(redis_client, minutes_before(20 * 60), [("Cleanup", 600.0, False)])


def by_name(report: api.MetricsReport) -> dict[str, api.JobMetrics]:
    return {job.name: job for job in report.jobs}


# ------------------------------------------------------------------ top



def test_top_1h_sums_minutes(client: Client, seeded: None) -> None:
    jobs = by_name(api.Metrics(client).top("1h", at=AT))
    assert set(jobs) == {"Report", "Mailer"}
    assert jobs["Mailer"].runs == 3
    assert jobs["Mailer"].failures == 1
    assert jobs["Mailer"].milliseconds == 150
    assert jobs["Report"].runs == 2
    assert jobs["Report"].total_seconds == 6.0


def test_top_average_counts_successes(client: Client, seeded: None) -> None:
    jobs = by_name(api.Metrics(client).top("1h", at=AT))
    assert jobs["Mailer"].average_seconds == pytest.approx(0.075)
    assert jobs["Report"].average_seconds == pytest.approx(3.0)


def test_top_sorted_by_total_time(client: Client, redis_client: redis.Redis) -> None:
    flush(redis_client, AT, [("Fast", 0.1, False)] * 5 + [("Slow", 3.0, False), ("Middle", 1.0, False)])
    report = api.Metrics(client).top("1h", at=AT)
    assert [job.name for job in report.jobs] == ["Slow", "Middle", "Fast"]


def test_top_1h_series_per_minute(client: Client, seeded: None) -> None:
    report = api.Metrics(client).top("1h", at=AT)
    assert len(report.buckets) == 60
    assert report.bucket_minutes == 1
    assert report.buckets[-1] == dt.datetime(2026, 3, 5, 9, 7, tzinfo=dt.timezone.utc)
    assert report.buckets[0] == dt.datetime(2026, 3, 5, 8, 8, tzinfo=dt.timezone.utc)
    mailer = by_name(report)["Mailer"]
    assert mailer.runs_series[-1] == 2
    assert mailer.runs_series[-31] == 1
    assert sum(mailer.runs_series) == 3
    assert mailer.failures_series[-1] == 1


def test_top_4h_reaches_older_minutes(client: Client, seeded: None) -> None:
    jobs = by_name(api.Metrics(client).top("4h", at=AT))
    assert jobs["Mailer"].runs == 4
    assert "Cleanup" not in jobs


def test_top_24h_reads_rollups(client: Client, seeded: None) -> None:
    report = api.Metrics(client).top("24h", at=AT)
    jobs = by_name(report)
    assert len(report.buckets) == 144
    assert report.bucket_minutes == 10
    assert report.buckets[-1] == dt.datetime(2026, 3, 5, 9, 0, tzinfo=dt.timezone.utc)
    assert jobs["Mailer"].runs == 4
    assert jobs["Cleanup"].total_seconds == 600.0
    assert [job.name for job in report.jobs] == ["Cleanup", "Report", "Mailer"]


def test_top_24h_series_per_ten_minutes(client: Client, seeded: None) -> None:
    report = api.Metrics(client).top("24h", at=AT)
    mailer = by_name(report)["Mailer"]
    # 09:07 is in the last bucket (09:00), 08:37 in the fourth from last (08:30), 06:07 in 06:00.
    assert mailer.runs_series[-1] == 2
    assert mailer.runs_series[-4] == 1
    assert mailer.runs_series[-19] == 1
    cleanup = by_name(report)["Cleanup"]
    assert cleanup.runs_series[report.buckets.index(dt.datetime(2026, 3, 4, 13, 0, tzinfo=dt.timezone.utc))] == 1


def test_top_reads_only_period_keys(client: Client, redis_client: redis.Redis) -> None:
    flush(redis_client, minutes_before(61), [("Old", 1.0, False)])
    flush(redis_client, AT + dt.timedelta(minutes=1), [("Future", 1.0, False)])
    assert api.Metrics(client).top("1h", at=AT).jobs == []


def test_top_empty_without_metrics(client: Client) -> None:
    report = api.Metrics(client).top("72h", at=AT)
    assert report.jobs == []
    assert len(report.buckets) == 432


def test_top_substr_ignores_case(client: Client, seeded: None) -> None:
    report = api.Metrics(client).top("24h", "mAiL", at=AT)
    assert [job.name for job in report.jobs] == ["Mailer"]


def test_top_substr_is_literal(client: Client, redis_client: redis.Redis) -> None:
    flush(redis_client, AT, [("Billing::Charge", 1.0, False), ("Billing", 1.0, False), ("a*b", 1.0, False)])
    metrics = api.Metrics(client)
    assert [job.name for job in metrics.top("1h", "::", at=AT).jobs] == ["Billing::Charge"]
    assert [job.name for job in metrics.top("1h", "*", at=AT).jobs] == ["a*b"]


def test_top_name_with_pipe(client: Client, redis_client: redis.Redis) -> None:
    flush(redis_client, AT, [("odd|name", 1.0, True)])
    (job,) = api.Metrics(client).top("1h", at=AT).jobs
    assert job.name == "odd|name"
    assert job.failures == 1


def test_top_respects_namespace(redis_url: str, redis_client: redis.Redis) -> None:
    flush(redis_client, AT, [("Plain", 1.0, False)])
    flush(redis_client, AT, [("Spaced", 1.0, False)], keys=Keys("shop"))
    with Client(redis_url, namespace="shop") as namespaced:
        names = [job.name for job in api.Metrics(namespaced).top("1h", at=AT).jobs]
    assert names == ["Spaced"]


@pytest.mark.parametrize("period", ["3h", "", "1H", "24", "96h", None, 1])
def test_bad_period_raises(client: Client, period: object) -> None:
    with pytest.raises(ValueError, match="invalid period"):
        api.Metrics(client).top(period)  # type: ignore[arg-type]


# ------------------------------------------------------------------ job


def test_job_1h_counts_and_histogram(client: Client, seeded: None) -> None:
    report = api.Metrics(client).job("Mailer", "1h", at=AT)
    assert report.job.runs == 3
    assert report.job.failures == 1
    assert report.job.milliseconds == 150
    assert report.histogram is not None
    assert len(report.histogram) == len(HISTOGRAM_BOUNDS_MS) + 1
    # 10 ms and 50 ms now, 100 ms 30 minutes ago; the 3-hour-old run is outside the hour.
    # A run as long as a bound counts in the next bucket: 100 ms is in 100 up to 150 ms.
    assert report.histogram[0] == 1
    assert report.histogram[3] == 1
    assert report.histogram[5] == 1
    assert sum(report.histogram) == 3


def test_job_8h_histogram_spans_hours(client: Client, seeded: None) -> None:
    report = api.Metrics(client).job("Mailer", "8h", at=AT)
    assert report.histogram is not None
    assert sum(report.histogram) == 4
    assert report.histogram[6] == 1


def test_job_slowest_bucket_counts(client: Client, redis_client: redis.Redis) -> None:
    flush(redis_client, AT, [("Huge", 400.0, False)])
    report = api.Metrics(client).job("Huge", "1h", at=AT)
    assert report.histogram is not None
    assert report.histogram[-1] == 1


def test_job_24h_has_no_histogram(client: Client, seeded: None) -> None:
    report = api.Metrics(client).job("Cleanup", "24h", at=AT)
    assert report.histogram is None
    assert report.job.runs == 1
    assert report.job.average_seconds == 600.0
    assert len(report.job.runs_series) == 144


def test_job_never_ran_is_zero(client: Client, seeded: None) -> None:
    report = api.Metrics(client).job("Nobody", "1h", at=AT)
    assert report.job.runs == 0
    assert report.job.average_seconds == 0.0
    assert report.histogram == [0] * (len(HISTOGRAM_BOUNDS_MS) + 1)


def test_job_matches_top_entry(client: Client, seeded: None) -> None:
    metrics = api.Metrics(client)
    for period in ("1h", "24h"):
        assert metrics.job("Report", period, at=AT).job == by_name(metrics.top(period, at=AT))["Report"]


def test_job_bad_period_raises(client: Client) -> None:
    with pytest.raises(ValueError, match="expected one of 1h, 2h, 4h, 8h, 24h, 48h, 72h"):
        api.Metrics(client).job("Mailer", "12h")


def test_default_period_ends_now(client: Client, redis_client: redis.Redis) -> None:
    flush(redis_client, dt.datetime.now(dt.timezone.utc), [("Recent", 1.0, False)])
    assert [job.name for job in api.Metrics(client).top().jobs] == ["Recent"]
