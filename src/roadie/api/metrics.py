"""Per-job execution metrics as workers record them: runs, failures, run time and run-time histograms.

Workers (roadie's and Sidekiq 8's) write counters per UTC minute into
``j|YYMMDD|H:MM`` hashes, kept 8 hours, and per 10 minutes into
``j|YYMMDD|H:T`` hashes, kept 3 days. Each job also gets a histogram per
minute in ``h|<job>-D-H:M``, kept 8 hours. See :mod:`roadie.worker.metrics`
for the writer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from roadie.api._common import _int, _RedisBound, _text, _translated
from roadie.storage.keys import HISTOGRAM_BOUNDS_MS

__all__ = ["HISTOGRAM_BOUNDS_MS", "PERIODS", "JobMetrics", "JobReport", "Metrics", "MetricsReport"]

@dataclass(frozen=True)
class _Period:
    buckets: int
    bucket_minutes: int


# Periods a query may cover. Periods up to 8 hours read one hash per minute,
# because minute hashes live 8 hours. Longer periods read the 10-minute
# rollups, which live 3 days.
PERIODS: dict[str, _Period] = {
    "1h": _Period(60, 1),
    "2h": _Period(120, 1),
    "4h": _Period(240, 1),
    "8h": _Period(480, 1),
    "24h": _Period(144, 10),
    "48h": _Period(288, 10),
    "72h": _Period(432, 10),
}

_HISTOGRAM_SIZE = len(HISTOGRAM_BOUNDS_MS) + 1


@dataclass(frozen=True)
class JobMetrics:
    """One job's counters over a period, in total and per time bucket.

    The ``*_series`` lists are aligned with the report's ``buckets``, oldest first.
    """

    name: str
    runs: int
    failures: int
    milliseconds: int
    runs_series: list[int]
    failures_series: list[int]
    milliseconds_series: list[int]

    @property
    def successes(self) -> int:
        return max(0, self.runs - self.failures)

    @property
    def total_seconds(self) -> float:
        """Run time of the successful runs, because workers do not record the time of failed runs."""
        return self.milliseconds / 1000

    @property
    def average_seconds(self) -> float:
        """Mean run time of a successful run, 0.0 without one."""
        return self.total_seconds / self.successes if self.successes else 0.0


@dataclass(frozen=True)
class MetricsReport:
    """Every job that ran in a period, by total run time, longest first (ties by name)."""

    period: str
    buckets: list[dt.datetime]
    bucket_minutes: int
    jobs: list[JobMetrics]


@dataclass(frozen=True)
class JobReport:
    """One job's counters over a period and, for periods of 8 hours or less, its run-time histogram.

    ``histogram`` has one count per bucket of :data:`HISTOGRAM_BOUNDS_MS` plus
    one for slower runs, summed over the minutes of the period. It is None for
    longer periods, because histograms are kept 8 hours.
    """

    period: str
    buckets: list[dt.datetime]
    bucket_minutes: int
    job: JobMetrics
    histogram: list[int] | None


def _period(period: str) -> _Period:
    try:
        return PERIODS[period]
    except (KeyError, TypeError):
        raise ValueError(f"invalid period {period!r}: expected one of {', '.join(PERIODS)}") from None


def _bucket_starts(spec: _Period, at: dt.datetime | None) -> list[dt.datetime]:
    """Return the start of every bucket of the period ending with the bucket that contains ``at``, oldest first."""
    moment = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    last = moment.replace(second=0, microsecond=0)
    last -= dt.timedelta(minutes=last.minute % spec.bucket_minutes)
    step = dt.timedelta(minutes=spec.bucket_minutes)
    return [last - step * offset for offset in range(spec.buckets - 1, -1, -1)]


def _window(start: dt.datetime, bucket_minutes: int) -> str:
    """Return the ``j|`` key suffix of a bucket, formatted as Sidekiq 8 names it."""
    if bucket_minutes == 1:
        return f"{start:%y%m%d}|{start.hour}:{start:%M}"
    return f"{start:%y%m%d}|{start.hour}:{start.minute // 10}"


def _histogram_window(start: dt.datetime) -> str:
    return f"{start.day}-{start.hour}:{start.minute}"


def _decode_histogram(raw: bytes | None) -> list[int]:
    """Return the 26 counters of a histogram string.

    BITFIELD ``u16 #i`` is the big-endian 16-bit integer at bit offset 16·i,
    so one GET reads them all. A string shorter than 52 bytes has zeros past
    its end, as Redis reads it.
    """
    data = (raw or b"").ljust(2 * _HISTOGRAM_SIZE, b"\0")
    return [int.from_bytes(data[2 * index:2 * index + 2], "big") for index in range(_HISTOGRAM_SIZE)]


class Metrics(_RedisBound):
    """Queries of the per-job execution metrics; every query reads its keys in one pipelined round trip."""

    @_translated
    def top(self, period: str = "1h", substr: str | None = None, *, at: dt.datetime | None = None) -> MetricsReport:
        """Return every job that ran in the ``period`` ending at ``at`` (default: now), longest total time first.

        ``period`` is one of :data:`PERIODS`; any other raises ValueError.
        ``substr`` keeps the jobs whose name contains it, ignoring case.
        """
        spec = _period(period)
        starts = _bucket_starts(spec, at)
        with self.connection.pipeline(transaction=False) as pipe:
            for start in starts:
                pipe.hgetall(self.keys.metrics_key(_window(start, spec.bucket_minutes)))
            hashes = pipe.execute()

        needle = substr.casefold() if substr else None
        # job name -> [runs per bucket, failures per bucket, milliseconds per bucket]
        series: dict[str, list[list[int]]] = {}
        for index, fields in enumerate(hashes):
            for raw_field, raw_value in fields.items():
                name, _, counter = (_text(raw_field) or "").rpartition("|")
                if counter not in ("p", "f", "ms") or not name:
                    continue
                if needle is not None and needle not in name.casefold():
                    continue
                rows = series.setdefault(name, [[0] * len(starts) for _ in range(3)])
                rows[("p", "f", "ms").index(counter)][index] += _int(raw_value)

        jobs = [_job_metrics(name, rows) for name, rows in series.items()]
        jobs.sort(key=lambda job: (-job.milliseconds, job.name))
        return MetricsReport(period, starts, spec.bucket_minutes, jobs)

    @_translated
    def job(self, name: str, period: str = "1h", *, at: dt.datetime | None = None) -> JobReport:
        """Return one job's counters for the ``period`` ending at ``at`` (default: now), zeros if it never ran.

        The histogram is read for periods of 8 hours or less. ``period`` is one
        of :data:`PERIODS`; any other raises ValueError.
        """
        spec = _period(period)
        starts = _bucket_starts(spec, at)
        fields = (f"{name}|p", f"{name}|f", f"{name}|ms")
        with_histogram = spec.bucket_minutes == 1
        with self.connection.pipeline(transaction=False) as pipe:
            for start in starts:
                pipe.hmget(self.keys.metrics_key(_window(start, spec.bucket_minutes)), fields)
            if with_histogram:
                for start in starts:
                    pipe.get(self.keys.histogram_key(name, _histogram_window(start)))
            replies = pipe.execute()

        counts = replies[: len(starts)]
        rows = [[_int(values[column]) for values in counts] for column in range(3)]
        histogram: list[int] | None = None
        if with_histogram:
            histogram = [0] * _HISTOGRAM_SIZE
            for raw in replies[len(starts):]:
                for index, value in enumerate(_decode_histogram(raw)):
                    histogram[index] += value
        return JobReport(period, starts, spec.bucket_minutes, _job_metrics(name, rows), histogram)


def _job_metrics(name: str, rows: list[list[Any]]) -> JobMetrics:
    runs, failures, milliseconds = rows
    return JobMetrics(name, sum(runs), sum(failures), sum(milliseconds), runs, failures, milliseconds)
