"""The metrics pages: run counts and run time per job, and one job's histogram."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from roadie.api import JobMetrics, JobReport, Metrics, MetricsReport
from roadie.api.metrics import HISTOGRAM_BOUNDS_MS, PERIODS
from roadie.web.params import MAX_SUBSTRING, choice_param, metrics_job_name, substring_param
from roadie.web.render import render
from roadie.web.views.common import blocking, client_of

__all__ = ["index", "job"]

# The first period is the default.
PERIOD_CHOICES = tuple(PERIODS)
# Jobs drawn in the chart of the metrics page, those with the most total run time. The table lists all.
CHART_JOBS = 5


async def index(request: Request) -> Response:
    period = choice_param(request, "period", PERIOD_CHOICES)
    substr = substring_param(request)
    client = client_of(request)
    report: MetricsReport = await blocking(lambda: Metrics(client).top(period, substr or None))
    chart = {
        "labels": _labels(report.buckets, report.bucket_minutes),
        "lines": [{"label": job.name, "data": job.runs_series} for job in report.jobs[:CHART_JOBS]],
        "yTitle": "Runs",
    }
    return render(request, "metrics.html", {
        "nav": "metrics",
        "title": "Metrics",
        "period": period,
        "period_choices": PERIOD_CHOICES,
        "substr": substr,
        "max_substring": MAX_SUBSTRING,
        "report": report,
        "chart_jobs": min(CHART_JOBS, len(report.jobs)),
        "chart_data": chart,
        "totals": _totals(report.jobs),
    })


async def job(request: Request) -> Response:
    name = metrics_job_name(request.path_params["name"])
    period = choice_param(request, "period", PERIOD_CHOICES)
    client = client_of(request)
    report: JobReport = await blocking(lambda: Metrics(client).job(name, period))
    chart: dict[str, Any] = {
        "labels": _labels(report.buckets, report.bucket_minutes),
        "lines": [
            {"label": "Runs", "data": report.job.runs_series, "color": "processed"},
            {"label": "Failures", "data": report.job.failures_series, "color": "failed"},
        ],
        "yTitle": "Runs",
        "histogram": None,
    }
    if report.histogram is not None:
        chart["histogram"] = {"labels": histogram_labels(), "data": report.histogram}
    return render(request, "metrics_job.html", {
        "nav": "metrics",
        "title": f"Metrics for {name}",
        "name": name,
        "period": period,
        "period_choices": PERIOD_CHOICES,
        "report": report,
        "chart_data": chart,
    })


def histogram_labels() -> list[str]:
    """Return one label per histogram bucket: its exclusive upper bound, and "≥ 335 s" for the last."""
    labels = [f"< {_milliseconds(bound)}" for bound in HISTOGRAM_BOUNDS_MS]
    labels.append(f"≥ {_milliseconds(HISTOGRAM_BOUNDS_MS[-1])}")
    return labels


def _milliseconds(value: int) -> str:
    return f"{value} ms" if value < 1000 else f"{value / 1000:g} s"


def _labels(buckets: list[dt.datetime], bucket_minutes: int) -> list[str]:
    """Return the chart's x-axis labels: UTC start times, with the date for 10-minute buckets."""
    pattern = "%H:%M" if bucket_minutes == 1 else "%m-%d %H:%M"
    return [start.strftime(pattern) for start in buckets]


def _totals(jobs: list[JobMetrics]) -> dict[str, float]:
    return {
        "runs": sum(job.runs for job in jobs),
        "failures": sum(job.failures for job in jobs),
        "seconds": sum(job.total_seconds for job in jobs),
    }
