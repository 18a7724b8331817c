"""The busy page: live processes with Quiet and Stop, and the jobs running now."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from roadie.api import Process, ProcessSet, Work, WorkSet
from roadie.web.params import MAX_COUNT, MAX_PAGE, int_param
from roadie.web.reads import slice_page
from roadie.web.render import redirect, render
from roadie.web.views.common import blocking, client_of, form_choice, read_form

__all__ = ["action", "page"]

DEFAULT_COUNT = 100
ACTIONS = ("quiet", "stop")


async def page(request: Request) -> Response:
    page_number = int_param(request, "page", 1, 1, MAX_PAGE)
    count = int_param(request, "count", DEFAULT_COUNT, 1, MAX_COUNT)
    client = client_of(request)

    def load() -> tuple[list[Process], list[Work]]:
        processes = list(ProcessSet(client))
        running = [work for _, _, work in WorkSet(client)]
        return processes, running

    processes, running = await blocking(load)
    return render(request, "busy.html", {
        "nav": "busy",
        "title": "Busy",
        "processes": processes,
        "jobs": slice_page(running, page_number, count),
        "totals": {
            "processes": len(processes),
            "threads": sum(process.concurrency for process in processes),
            "busy": sum(process.busy for process in processes),
            "rss": sum(process.rss for process in processes),
        },
        "signalable": [process for process in processes if not process.embedded],
    })


async def action(request: Request) -> Response:
    """Quiet or stop one process (``identity`` given) or every process that accepts remote signals."""
    form = await read_form(request)
    verb = form_choice(form, "action", ACTIONS)
    identity = form.get("identity")
    if identity is not None and (not isinstance(identity, str) or not identity):
        raise HTTPException(400, "invalid identity: expected a process identity")
    client = client_of(request)

    def apply() -> str:
        processes = ProcessSet(client)
        if identity is None:
            # Embedded processes run inside another program and ignore remote signals.
            targets = [process for process in processes if not process.embedded]
        else:
            found = processes.get(identity)
            if found is None:
                return "That process is no longer running."
            targets = [found]
        for process in targets:
            if verb == "quiet":
                process.quiet()
            else:
                process.stop()
        noun = "process" if len(targets) == 1 else "processes"
        signal = "TSTP (quiet)" if verb == "quiet" else "TERM (stop)"
        return f"Sent {signal} to {len(targets)} {noun}; a process obeys at its next heartbeat."

    message = await blocking(apply)
    return redirect(request, "/busy", message)
