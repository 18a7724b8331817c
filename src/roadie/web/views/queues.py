"""The queues page, one queue's jobs, and the clear, pause, resume and delete actions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from roadie.api import JobRecord, Queue, QueueSummary, Stats
from roadie.web.params import MAX_COUNT, MAX_PAGE, choice_param, decode_raw, encode_raw, int_param, queue_name
from roadie.web.reads import Page, queue_page
from roadie.web.render import redirect, render, url_segment
from roadie.web.views.common import blocking, client_of, form_choice, read_form

__all__ = ["action", "delete_job", "index", "page"]

DEFAULT_COUNT = 25
ACTIONS = ("clear", "pause", "resume")
# "desc" lists the newest job first, as the queue list stores them.
DIRECTIONS = ("desc", "asc")


async def index(request: Request) -> Response:
    client = client_of(request)
    summaries: list[QueueSummary] = await blocking(lambda: Stats(client).queue_summaries())
    return render(request, "queues.html", {"nav": "queues", "title": "Queues", "queues": summaries})


async def page(request: Request) -> Response:
    name = queue_name(request.path_params["name"])
    page_number = int_param(request, "page", 1, 1, MAX_PAGE)
    count = int_param(request, "count", DEFAULT_COUNT, 1, MAX_COUNT)
    direction = choice_param(request, "direction", DIRECTIONS)
    queue = Queue(name, client_of(request))

    def load() -> tuple[Page[JobRecord], bool, float]:
        jobs = queue_page(queue, page_number, count, oldest_first=direction == "asc")
        return jobs, queue.paused, queue.latency

    jobs, paused, latency = await blocking(load)
    return render(request, "queue.html", {
        "nav": "queues",
        "title": f"Queue {name}",
        "name": name,
        "jobs": jobs,
        "paused": paused,
        "latency": latency,
        "direction": direction,
        "encode_raw": encode_raw,
    })


async def action(request: Request) -> Response:
    """Clear, pause or resume a queue."""
    name = queue_name(request.path_params["name"])
    form = await read_form(request)
    verb = form_choice(form, "action", ACTIONS)
    queue = Queue(name, client_of(request))
    if verb == "clear":
        removed = await blocking(queue.clear)
        return redirect(request, "/queues", f"Cleared queue {name}: {removed:,} jobs deleted.")
    if verb == "pause":
        await blocking(queue.pause)
        return redirect(request, "/queues", f"Paused queue {name}: roadie workers stop fetching from it.")
    await blocking(queue.unpause)
    return redirect(request, "/queues", f"Resumed queue {name}.")


async def delete_job(request: Request) -> Response:
    """Delete one job, named by its exact bytes, from a queue."""
    name = queue_name(request.path_params["name"])
    form = await read_form(request)
    raw = decode_raw(form.get("key_val"))
    queue = Queue(name, client_of(request))

    def delete() -> bool:
        # NOTE: JobRecord.delete removes from the queue named in the payload's
        # "queue" key, which can differ from the list the job is in. So this
        # removes from the list the page showed.
        return bool(queue.connection.lrem(queue.key, 1, raw))  # type: ignore[arg-type]  # redis-py takes bytes

    deleted = await blocking(delete)
    message = "Deleted the job." if deleted else "The job was no longer in the queue."
    return redirect(request, f"/queues/{url_segment(name)}", message)
