"""The dashboard page and the JSON endpoints it polls."""

from __future__ import annotations

import datetime as dt
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from roadie.api import Queue, Stats
from roadie.web.params import DEFAULT_DAYS, MAX_DAYS, MIN_DAYS, int_param
from roadie.web.render import base_path, render
from roadie.web.views.common import blocking, client_of

__all__ = ["health", "index", "stats", "stats_queues", "stats_redirect"]

# Ranges the history chart offers, in days.
HISTORY_CHOICES = (7, 30, 90, 180)


async def index(request: Request) -> Response:
    days = int_param(request, "days", DEFAULT_DAYS, MIN_DAYS, MAX_DAYS)
    client = client_of(request)

    def load() -> tuple[dict[str, Any], dict[str, dict[dt.date, int]], dict[str, Any]]:
        stats = Stats(client)
        return stats.as_dict(), stats.history(days), stats.redis_info()

    values, history, redis_info = await blocking(load)
    dates = sorted(history["processed"])
    chart_data = {
        "statsUrl": base_path(request) + "/stats",
        "history": {
            "labels": [day.isoformat() for day in dates],
            "processed": [history["processed"][day] for day in dates],
            "failed": [history["failed"][day] for day in dates],
        },
        "initial": _counters(values),
    }
    return render(request, "dashboard.html", {
        "nav": "dashboard",
        "title": "Dashboard",
        "counters": _counters(values),
        "processes": values["processes_size"],
        "default_latency": values["default_queue_latency"],
        "days": days,
        "history_choices": HISTORY_CHOICES,
        "history_total": {name: sum(counts.values()) for name, counts in history.items()},
        "redis_info": redis_info,
        "chart_data": chart_data,
    })


def _counters(values: dict[str, Any]) -> dict[str, int]:
    return {
        "processed": values["processed"],
        "failed": values["failed"],
        "busy": values["workers_size"],
        "enqueued": values["enqueued"],
        "retries": values["retry_size"],
        "scheduled": values["scheduled_size"],
        "dead": values["dead_size"],
    }


async def health(request: Request) -> Response:
    """Respond to ``HEAD /`` after one cheap Redis command (LLEN), as a health check for load balancers."""
    client = client_of(request)
    await blocking(lambda: Queue("default", client).size)
    return Response(status_code=200)


async def stats(request: Request) -> Response:
    """Return counters and Redis facts as JSON, in the shape of Sidekiq's ``/stats``, so its pollers work too."""
    client = client_of(request)

    def load() -> tuple[dict[str, Any], dict[str, Any]]:
        stats = Stats(client)
        return stats.as_dict(), stats.redis_info()

    values, redis_info = await blocking(load)
    counters = _counters(values)
    return JSONResponse({
        "sidekiq": {
            **counters,
            "processes": values["processes_size"],
            "default_latency": values["default_queue_latency"],
        },
        "redis": {
            "redis_version": redis_info["version"],
            "uptime_in_days": redis_info["uptime_in_days"],
            "connected_clients": redis_info["connected_clients"],
            "used_memory_human": redis_info["used_memory_human"],
            "used_memory_peak_human": redis_info["used_memory_peak_human"],
        },
        "server_utc_time": dt.datetime.now(dt.timezone.utc).strftime("%H:%M:%S UTC"),
    })


async def stats_queues(request: Request) -> Response:
    """Return queue name to size as JSON, largest first."""
    client = client_of(request)
    sizes = await blocking(lambda: Stats(client).queues())
    return JSONResponse(sizes)


async def stats_redirect(request: Request) -> Response:
    """Send Sidekiq's old ``/dashboard/stats`` path to ``/stats``."""
    return RedirectResponse(base_path(request) + "/stats", status_code=301)

