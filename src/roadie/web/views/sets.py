"""The retry, scheduled and dead sets: list pages, detail pages and their actions.

Entries are named as Sidekiq's Web UI names them, ``<score>-<jid>``, in
detail-page paths and in the ``key`` fields of forms. Each set offers the
actions Sidekiq offers for it. Retries can be retried now, deleted or killed.
Scheduled jobs can be added to their queue now or deleted. Dead jobs can be
retried now or deleted. The set-wide actions drain the set in batches (ZPOPMIN), so no entry
is skipped or pushed twice while workers change the set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roadie.api import DeadSet, JobSet, RetrySet, ScheduledSet, SearchCursor, SearchResult, SortedEntry
from roadie.client import Client
from roadie.errors import JobArgumentError, PayloadError
from roadie.web.params import (
    MAX_COUNT,
    MAX_PAGE,
    EntryKey,
    int_param,
    parse_entry_key,
    substring_param,
)
from roadie.web.reads import Page, set_page, set_search
from roadie.web.render import redirect, render
from roadie.web.views.common import blocking, client_of, form_choice, read_form

__all__ = ["ACTION_LABELS", "KINDS", "KNOWN_KEYS", "SetKind", "routes"]

DEFAULT_COUNT = 25

ACTION_LABELS = {"retry": "Retry Now", "add_to_queue": "Add to Queue", "delete": "Delete", "kill": "Kill"}
ALL_ACTION_LABELS = {"retry": "Retry All", "add_to_queue": "Add All to Queue", "delete": "Delete All",
                     "kill": "Kill All"}
PAST_TENSE = {"retry": "Retried", "add_to_queue": "Added to their queues", "delete": "Deleted", "kill": "Killed"}

# Job-hash keys the detail page shows in its main table; every other key is
# listed under "Other keys".
KNOWN_KEYS = frozenset({
    "class", "args", "kwargs", "jid", "queue", "retry", "created_at", "enqueued_at", "retry_count", "failed_at",
    "retried_at", "error_class", "error_message", "error_backtrace", "tags", "wrapped", "display_class", "bid",
    "retry_queue", "retry_for", "dead", "backtrace",
})


@dataclass(frozen=True)
class SetKind:
    """One sorted set as the dashboard shows it: path, title, API class and actions."""

    slug: str
    title: str
    set_class: type[JobSet]
    noun: str
    score_label: str
    actions: tuple[str, ...]
    show_error: bool

    def open(self, client: Client) -> JobSet:
        return self.set_class(client)

    def labels(self) -> list[tuple[str, str]]:
        return [(action, ACTION_LABELS[action]) for action in self.actions]

    def all_labels(self) -> list[tuple[str, str]]:
        return [(action, ALL_ACTION_LABELS[action]) for action in self.actions]


KINDS = (
    SetKind("retries", "Retries", RetrySet, "retry set", "Next retry", ("retry", "delete", "kill"), True),
    SetKind("scheduled", "Scheduled", ScheduledSet, "scheduled set", "When", ("add_to_queue", "delete"), False),
    SetKind("morgue", "Dead", DeadSet, "dead set", "Died", ("retry", "delete"), True),
)


def routes() -> list[Route]:
    table: list[Route] = []
    for kind in KINDS:
        base = f"/{kind.slug}"
        table += [
            Route(base, _list_handler(kind), methods=["GET"], name=kind.slug),
            Route(base, _selected_handler(kind), methods=["POST"]),
            Route(base + "/all/{action}", _all_handler(kind), methods=["POST"]),
            Route(base + "/{key:path}", _entry_handler(kind), methods=["GET"], name=f"{kind.slug}_entry"),
            Route(base + "/{key:path}", _entry_action_handler(kind), methods=["POST"]),
        ]
    return table


# ------------------------------------------------------------------ reading


def _list_handler(kind: SetKind) -> Callable[[Request], Any]:
    async def list_page(request: Request) -> Response:
        page_number = int_param(request, "page", 1, 1, MAX_PAGE)
        count = int_param(request, "count", DEFAULT_COUNT, 1, MAX_COUNT)
        substring = substring_param(request)
        after = _cursor_param(request)
        job_set = kind.open(client_of(request))
        entries: Page[SortedEntry] | None = None
        search: SearchResult | None = None
        if substring:
            # A filtered list goes forward from where the last search stopped, not by page.
            search = await blocking(set_search, job_set, substring, after, count)
            rows = search.entries
        else:
            entries = await blocking(set_page, job_set, page_number, count)
            rows = entries.rows
        return render(request, "set.html", {
            "nav": kind.slug,
            "title": kind.title,
            "kind": kind,
            "entries": entries,
            "search": search,
            "rows": rows,
            "substr": substring,
        })

    return list_page


def _cursor_param(request: Request) -> SearchCursor | None:
    """Return the ``after`` parameter of a filtered list; 400 when it is not a ``<score>,<count>`` cursor."""
    raw = request.query_params.get("after", "")
    if not raw:
        return None
    try:
        return SearchCursor.parse(raw)
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None


def _find(job_set: JobSet, key: EntryKey) -> list[SortedEntry]:
    """Return the entries named by ``key``: its score, and its jid (None for a payload without one)."""
    return [entry for entry in job_set.fetch(key.score) if entry.jid == key.jid]


def _entry_handler(kind: SetKind) -> Callable[[Request], Any]:
    async def entry_page(request: Request) -> Response:
        key = parse_entry_key(request.path_params["key"])
        if key is None:
            raise HTTPException(404, f"Not Found: no entry of the {kind.noun} has that key")
        job_set = kind.open(client_of(request))
        found = await blocking(_find, job_set, key)
        if not found:
            return render(request, "gone.html", {"nav": kind.slug, "title": kind.title, "kind": kind}, status=404)
        entry = found[0]
        return render(request, "entry.html", {
            "nav": kind.slug,
            "title": f"{kind.title}: {entry.job_class or 'job'}",
            "kind": kind,
            "entry": entry,
            "duplicates": len(found) - 1,
            "other_keys": sorted(name for name in entry.item if name not in KNOWN_KEYS) if entry.valid else [],
            "backtrace": entry.error_backtrace,
        })

    return entry_page


# ------------------------------------------------------------------ actions


def _apply(entries: Sequence[SortedEntry], action: str) -> tuple[int, int, int]:
    """Run ``action`` on each entry; return how many succeeded, were gone, and could not be pushed."""
    done = gone = failed = 0
    for entry in entries:
        method = getattr(entry, action)
        try:
            succeeded = method()
        except (PayloadError, JobArgumentError):
            failed += 1
            continue
        if succeeded:
            done += 1
        else:
            gone += 1
    return done, gone, failed


def _summary(kind: SetKind, action: str, done: int, gone: int, failed: int) -> str:
    parts = [f"{PAST_TENSE[action]} {done:,} {'job' if done == 1 else 'jobs'}."]
    if gone:
        parts.append(f"{gone:,} {'was' if gone == 1 else 'were'} no longer in the {kind.noun}.")
    if failed:
        parts.append(f"{failed:,} could not be pushed: the payload is not a valid job.")
    return " ".join(parts)


def _selected_handler(kind: SetKind) -> Callable[[Request], Any]:
    async def act_on_selected(request: Request) -> Response:
        form = await read_form(request)
        action = form_choice(form, "action", kind.actions)
        texts = [value for value in form.getlist("key") if isinstance(value, str)]
        if len(texts) > MAX_COUNT:
            raise HTTPException(400, f"too many jobs selected: at most {MAX_COUNT} at once")
        keys = [parse_entry_key(text) for text in texts]
        if any(key is None for key in keys):
            raise HTTPException(400, "invalid key: expected <score>-<jid>")
        job_set = kind.open(client_of(request))

        def apply() -> str:
            if not keys:
                return "No jobs were selected."
            done = gone = failed = 0
            for key in keys:
                assert key is not None
                entries = _find(job_set, key)
                if not entries:
                    gone += 1
                    continue
                counts = _apply(entries, action)
                done, gone, failed = done + counts[0], gone + counts[1], failed + counts[2]
            return _summary(kind, action, done, gone, failed)

        return redirect(request, f"/{kind.slug}", await blocking(apply))

    return act_on_selected


def _all_handler(kind: SetKind) -> Callable[[Request], Any]:
    async def act_on_all(request: Request) -> Response:
        action = request.path_params["action"]
        if action not in kind.actions:
            raise HTTPException(404, f"Not Found: the {kind.noun} has no action {action[:40]!r}")
        await read_form(request)
        job_set = kind.open(client_of(request))
        run: dict[str, Callable[[], int]] = {
            "retry": job_set.retry_all,
            "add_to_queue": job_set.add_to_queue_all,
            "delete": job_set.clear,
            "kill": job_set.kill_all,
        }
        count = await blocking(run[action])
        return redirect(request, f"/{kind.slug}", _summary(kind, action, count, 0, 0))

    return act_on_all


def _entry_action_handler(kind: SetKind) -> Callable[[Request], Any]:
    async def act_on_entry(request: Request) -> Response:
        key = parse_entry_key(request.path_params["key"])
        if key is None:
            raise HTTPException(404, f"Not Found: no entry of the {kind.noun} has that key")
        form = await read_form(request)
        action = form_choice(form, "action", kind.actions)
        job_set = kind.open(client_of(request))

        def apply() -> str:
            entries = _find(job_set, key)
            if not entries:
                return f"The job was no longer in the {kind.noun}."
            return _summary(kind, action, *_apply(entries, action))

        return redirect(request, f"/{kind.slug}", await blocking(apply))

    return act_on_entry
