"""Operator commands: ``roadie status``, ``queues`` (with ``pause``, ``resume`` and
``clear``), ``retries``, ``scheduled``, ``dead``, ``enqueue``, ``quiet`` and ``stop``.

Each command reads or changes Redis through :mod:`roadie.api`, takes
``--redis-url``, ``-C/--config`` and ``--namespace`` to choose the Redis and key
prefix (default: roadie.yml and the environment, as for ``roadie worker``),
prints aligned plain-text tables, and prints JSON instead with ``--json``.

Exit codes:

* 0: success.
* 1: an error: Redis unreachable, a job or process not found, invalid configuration.
* 2: invalid usage: an unknown option, a missing argument, ``--all`` or
  ``queues clear`` without ``--yes``, an invalid queue name, or JSON_ARGS that
  is not a JSON array.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import click

from roadie._time import now
from roadie._version import __version__
from roadie.config import Settings, redact_url
from roadie.errors import JobArgumentError, RoadieError

if TYPE_CHECKING:
    from roadie import api
    from roadie.client import Client

__all__ = ["EXIT_CODES_HELP", "register"]

EXIT_CODES_HELP = (
    "\b\nExit codes:\n"
    "  0  success\n"
    "  1  error: Redis unreachable, job or process not found, invalid configuration\n"
    "  2  invalid usage, such as --all without --yes"
)

# Rows `list` prints without --limit: one page of Sidekiq's Web UI.
DEFAULT_LIMIT = 25
# Characters of args and error messages shown in a table cell.
CELL_WIDTH = 50


# ------------------------------------------------------------------ plumbing


def _make_client(redis_url: str | None, config: str | None, namespace: str | None) -> Client:
    from roadie.client import Client

    try:
        settings = Settings.load(config, overrides={"redis_url": redis_url, "namespace": namespace})
    except RoadieError as exc:
        raise click.ClickException(str(exc)) from None
    return Client(settings=settings)


def _admin_command(function: Callable[..., None]) -> Callable[..., None]:
    """Add the connection and ``--json`` options; pass ``client`` and ``as_json``; map errors to exit 1."""

    @functools.wraps(function)
    def run(redis_url: str | None, config: str | None, namespace: str | None, as_json: bool, **kwargs: Any) -> None:
        import redis

        # `roadie queues --redis-url URL pause NAME` gives the options to the
        # group; a subcommand falls back to them for the options it lacks.
        parent = click.get_current_context().parent
        inherited = parent.params if parent is not None and parent.command is queues else {}
        redis_url = redis_url or inherited.get("redis_url")
        config = config or inherited.get("config")
        namespace = namespace if namespace is not None else inherited.get("namespace")
        as_json = as_json or bool(inherited.get("as_json"))
        client = _make_client(redis_url, config, namespace)
        try:
            function(client=client, as_json=as_json, **kwargs)
        except RoadieError as exc:
            raise click.ClickException(str(exc)) from None
        except redis.RedisError as exc:
            raise click.ClickException(f"Redis command failed at {redact_url(client.url)}: {exc}") from None
        finally:
            client.close()

    options = [
        click.option("--redis-url", metavar="URL",
                     help="Redis URL [default: $REDIS_URL, roadie.yml, else redis://localhost:6379/0]"),
        click.option("-C", "--config", type=click.Path(dir_okay=False),
                     help="YAML settings file [default: roadie.yml]"),
        click.option("--namespace", metavar="PREFIX", help="key prefix, as Sidekiq 6 with redis-namespace wrote keys"),
        click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table"),
    ]
    for option in reversed(options):
        run = option(run)
    return run


def _print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[int] = ()) -> str:
    """Return rows as plain-text columns two spaces apart; columns in ``right`` are right-aligned."""
    rows = [list(row) for row in rows]
    widths = [max([len(header)] + [len(row[index]) for row in rows]) for index, header in enumerate(headers)]
    lines = []
    for row in [list(headers), *rows]:
        cells = [cell.rjust(widths[index]) if index in right else cell.ljust(widths[index])
                 for index, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def _shorten(text: str, width: int = CELL_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _duration(seconds: float) -> str:
    """Format seconds as ``0.25s``, ``42s``, ``3m 05s``, ``2h 10m`` or ``4d 3h``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.2f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    if whole < 86_400:
        return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
    return f"{whole // 86_400}d {whole % 86_400 // 3600}h"


def _relative(epoch: float | None) -> str:
    """Format a time as ``in 5m 00s`` or ``2h 10m ago``; ``-`` when unknown."""
    if epoch is None:
        return "-"
    delta = epoch - now()
    return f"in {_duration(delta)}" if delta > 0 else f"{_duration(-delta)} ago"


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).isoformat()


def _kilobytes(kb: int) -> str:
    return f"{kb / 1024:.0f} MB" if kb >= 1024 else f"{kb} KB"


# -------------------------------------------------------------------- status


@click.command()
@_admin_command
def status(client: Client, as_json: bool) -> None:
    """Show the version, processes, queues and set sizes, like Sidekiq's sidekiqmon."""
    from roadie import api

    stats = api.Stats(client).refresh()
    redis_info = stats.redis_info()
    processes = list(api.ProcessSet(client))
    queues = stats.queue_summaries()
    if as_json:
        _print_json({
            "version": __version__,
            "redis": {"url": redact_url(client.url), **redis_info},
            "stats": stats.as_dict(),
            "processes": [_process_dict(process) for process in processes],
            "queues": [_queue_dict(summary) for summary in queues],
        })
        return

    click.echo(f"roadie {__version__}, {redis_info['store']} {redis_info['version']} at {redact_url(client.url)}")
    click.echo("")
    click.echo(_table(
        ["PROCESSED", "FAILED", "BUSY", "ENQUEUED", "RETRIES", "SCHEDULED", "DEAD"],
        [[f"{value:,}" for value in (stats.processed, stats.failed, stats.workers_size, stats.enqueued,
                                     stats.retry_size, stats.scheduled_size, stats.dead_size)]],
        right=range(7),
    ))
    click.echo("")
    click.echo(f"Processes ({len(processes)})")
    if processes:
        click.echo(_table(
            ["IDENTITY", "TAG", "VERSION", "STARTED", "BUSY", "QUEUES", "STATE", "RSS"],
            [[process.identity, process.tag or "-", process.version or "-", _relative(process.started_at),
              f"{process.busy}/{process.concurrency}", ", ".join(process.queues) or "-",
              "quiet" if process.stopping else "running", _kilobytes(process.rss)] for process in processes],
            right=(4, 7),
        ))
    click.echo("")
    click.echo(f"Queues ({len(queues)})")
    if queues:
        click.echo(_queue_table(queues))


def _process_dict(process: api.Process) -> dict[str, Any]:
    return {
        "identity": process.identity,
        "hostname": process.hostname,
        "pid": process.pid,
        "tag": process.tag,
        "labels": process.labels,
        "version": process.version,
        "started_at": process.started_at,
        "queues": process.queues,
        "weights": process.weights,
        "concurrency": process.concurrency,
        "busy": process.busy,
        "beat": process.beat,
        "quiet": process.stopping,
        "rss_kb": process.rss,
        "rtt_us": process.rtt_us,
    }


def _queue_dict(summary: api.QueueSummary) -> dict[str, Any]:
    return {"name": summary.name, "size": summary.size, "latency": summary.latency, "paused": summary.paused}


def _queue_table(queues: Sequence[api.QueueSummary]) -> str:
    return _table(
        ["NAME", "SIZE", "LATENCY", "PAUSED"],
        [[summary.name, f"{summary.size:,}", _duration(summary.latency), "yes" if summary.paused else "no"]
         for summary in queues],
        right=(1, 2),
    )


@click.group(invoke_without_command=True)
@_admin_command
def queues(client: Client, as_json: bool) -> None:
    """List the queues with their size, latency (age of the oldest job) and paused state.

    The subcommands pause, resume and clear queues by name.
    """
    from roadie import api

    if click.get_current_context().invoked_subcommand is not None:
        return
    summaries = api.Stats(client).queue_summaries()
    if as_json:
        _print_json([_queue_dict(summary) for summary in summaries])
    elif summaries:
        click.echo(_queue_table(summaries))
    else:
        click.echo("no queues")


def _queue_names(names: Sequence[str]) -> list[str]:
    """Return ``names`` if each is a valid queue name; else a usage error naming the first invalid one."""
    from roadie.config import validate_queue_name

    try:
        return [validate_queue_name(name) for name in names]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None


def _pause_command(verb: str, pause: bool, summary: str) -> click.Command:
    @click.command(verb, help=summary, epilog=EXIT_CODES_HELP)
    @click.argument("names", nargs=-1, required=True, metavar="QUEUE...")
    @_admin_command
    def command(client: Client, as_json: bool, names: tuple[str, ...]) -> None:
        from roadie import api

        valid = _queue_names(names)
        known = {queue.name for queue in api.Queue.all(client)}
        for name in valid:
            if pause:
                api.Queue(name, client).pause()
            else:
                api.Queue(name, client).unpause()
        _report_queues(as_json, "paused" if pause else "resumed", names)
        for name in valid:
            if pause and name not in known:
                click.echo(f"note: no queue named {name!r} has received jobs yet; it starts paused when one does",
                           err=True)

    return command


queues.add_command(_pause_command(
    "pause", True, "Pause queues: roadie workers (and Sidekiq Pro's) stop fetching from them; jobs keep arriving."
))
queues.add_command(_pause_command("resume", False, "Resume paused queues, so workers fetch from them again."))


@queues.command("clear", epilog=EXIT_CODES_HELP)
@click.argument("names", nargs=-1, required=True, metavar="QUEUE...")
@click.option("--yes", is_flag=True, help="confirm that every job in these queues is deleted")
@_admin_command
def clear_queues(client: Client, as_json: bool, names: tuple[str, ...], yes: bool) -> None:
    """Delete every job in queues, as the dashboard's Clear does; the queue names leave the queue list."""
    from roadie import api

    valid = _queue_names(names)
    if not yes:
        raise click.UsageError(f"clear would delete every job in {', '.join(map(repr, valid))}; add --yes to confirm")
    deleted = {name: api.Queue(name, client).clear() for name in valid}
    if as_json:
        _print_json({"action": "clear", "deleted": deleted})
        return
    for name, count in deleted.items():
        click.echo(f"deleted {count:,} {'job' if count == 1 else 'jobs'} from queue {name!r}")


def _report_queues(as_json: bool, done: str, names: Sequence[str]) -> None:
    if as_json:
        _print_json({"action": done, "queues": list(names)})
    else:
        click.echo(f"{done} {', '.join(map(repr, names))}")


# --------------------------------------------------------------- sorted sets

# The actions Sidekiq's Web UI offers on each set, with the API method for one
# entry and for every entry, and the past tense for messages.
_ACTIONS: dict[str, tuple[str, str, str]] = {
    "retry": ("retry", "retry_all", "retried"),
    "add-to-queue": ("add_to_queue", "add_to_queue_all", "added to their queues"),
    "kill": ("kill", "kill_all", "moved to the dead set"),
    "delete": ("delete", "clear", "deleted"),
}


def _set_group(name: str, set_name: str, title: str, time_header: str, verbs: Sequence[str]) -> click.Group:
    """Build the command group for one sorted set: ``list`` plus the verbs Sidekiq's UI offers for it."""

    def job_set(client: Client) -> api.JobSet:
        from roadie import api

        classes: dict[str, type[api.JobSet]] = {
            "schedule": api.ScheduledSet, "retry": api.RetrySet, "dead": api.DeadSet,
        }
        return classes[set_name](client)

    group = click.Group(name, help=f"List and act on the {title}.", epilog=EXIT_CODES_HELP)

    order = "newest" if set_name == "dead" else "soonest"

    @group.command("list", help=f"List the jobs in the {title}, {order} first.", epilog=EXIT_CODES_HELP)
    @click.option("--limit", type=click.IntRange(min=0), default=DEFAULT_LIMIT, show_default=True,
                  help="show at most this many jobs; 0 shows all")
    @_admin_command
    def list_jobs(client: Client, as_json: bool, limit: int) -> None:
        entries_set = job_set(client)
        total = entries_set.size
        entries = []
        for entry in entries_set:
            if limit and len(entries) >= limit:
                break
            entries.append(entry)
        if as_json:
            _print_json([_entry_dict(entry) for entry in entries])
            return
        if not entries:
            click.echo(f"the {title} is empty")
            return
        click.echo(_entry_table(entries, time_header, with_error=set_name != "schedule"))
        if len(entries) < total:
            click.echo(f"showing {len(entries):,} of {total:,}; use --limit 0 to show all")

    for verb in verbs:
        group.add_command(_action_command(verb, title, job_set))
    return group


def _action_command(verb: str, title: str, job_set: Callable[[Client], api.JobSet]) -> click.Command:
    one, every, done = _ACTIONS[verb]
    summary = {
        "retry": f"Push jobs from the {title} to their queues now, as Sidekiq's \"Retry Now\" does.",
        "add-to-queue": f"Push jobs from the {title} to their queues now, unchanged.",
        "kill": f"Move jobs from the {title} to the dead set.",
        "delete": f"Delete jobs from the {title}.",
    }[verb]

    @click.command(verb, help=summary, epilog=EXIT_CODES_HELP)
    @click.argument("jids", nargs=-1, metavar="[JID]...")
    @click.option("--all", "all_jobs", is_flag=True, help=f"{verb} every job in the {title}")
    @click.option("--yes", is_flag=True, help="confirm --all")
    @_admin_command
    def action(client: Client, as_json: bool, jids: tuple[str, ...], all_jobs: bool, yes: bool) -> None:
        if all_jobs and jids:
            raise click.UsageError("give job ids or --all, not both")
        if not all_jobs and not jids:
            raise click.UsageError("give at least one job id, or --all --yes for every job")
        if all_jobs and not yes:
            raise click.UsageError(f"--all would {verb} every job in the {title}; add --yes to confirm")
        entries_set = job_set(client)
        if all_jobs:
            count = getattr(entries_set, every)()
            _report_action(as_json, verb, title, count, done, [], [])
            return
        acted, missing = [], []
        for jid in jids:
            entries = entries_set.find_jobs(jid)
            # An entry can vanish between the scan and the action, when a
            # worker or another operator moved it first.
            if any([getattr(entry, one)() for entry in entries]):
                acted.append(jid)
            else:
                missing.append(jid)
        _report_action(as_json, verb, title, len(acted), done, acted, missing)
        if missing:
            raise click.ClickException(f"no job with jid {', '.join(missing)} in the {title}")

    return action


def _report_action(
    as_json: bool, verb: str, title: str, count: int, done: str, acted: list[str], missing: list[str]
) -> None:
    if as_json:
        _print_json({"action": verb, "count": count, "jids": acted, "not_found": missing})
    else:
        click.echo(f"{count:,} {'job' if count == 1 else 'jobs'} {done} from the {title}")


def _entry_dict(entry: api.SortedEntry) -> dict[str, Any]:
    return {
        "jid": entry.jid,
        "class": entry.job_class,
        "queue": entry.queue,
        "score": entry.score,
        "at": _iso(entry.score),
        "args": entry.args,
        "retry_count": entry.retry_count,
        "error_class": entry.error_class,
        "error_message": entry.error_message,
        "valid": entry.valid,
        "job": entry.item,
    }


def _entry_table(entries: Sequence[api.SortedEntry], time_header: str, *, with_error: bool) -> str:
    headers = [time_header, "JID", "QUEUE", "JOB", "ARGS"]
    if with_error:
        headers += ["RETRIES", "ERROR"]
    rows = []
    for entry in entries:
        row = [_relative(entry.score), entry.jid or "-", entry.queue or "-",
               entry.job_class or "(invalid payload)", _shorten(json.dumps(entry.args, ensure_ascii=False))]
        if with_error:
            error = ": ".join(part for part in (entry.error_class, entry.error_message) if part)
            count = entry.retry_count
            row += ["-" if count is None else str(count), _shorten(error) or "-"]
        rows.append(row)
    return _table(headers, rows, right=(5,) if with_error else ())


# ------------------------------------------------------------------- enqueue


class _RetryOption(click.ParamType):
    """The ``retry`` job option: ``true``, ``false`` or a number of retries."""

    name = "true|false|N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> bool | int:
        if isinstance(value, (bool, int)):
            return value
        text = str(value).strip().lower()
        if text in ("true", "false"):
            return text == "true"
        if text.isdigit():
            return int(text)
        self.fail(f"{value!r} is not true, false or a number of retries >= 0", param, ctx)


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("name")
@click.argument("json_args", required=False, default="[]", metavar="[JSON_ARGS]")
@click.option("--queue", "-q", help="queue to push the job to [default: the job's own queue, else default]")
@click.option("--in", "delay", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="run the job this many seconds from now instead of at once")
@click.option("--kwargs", "json_kwargs", metavar="JSON_OBJECT",
              help="keyword arguments for a Python job, as a JSON object (Ruby jobs ignore them)")
@click.option("--retry", type=_RetryOption(),
              help="retries if the job fails: true (the max_retries setting), false or a number "
                   "[default: the job's own option, else true]")
@click.option("-r", "--require", "requires", multiple=True, metavar="MODULE|PATH",
              help="import roadie jobs from this module or .py file first, so NAME's own options and argument "
                   "checks apply; repeat for more")
@_admin_command
def enqueue(
    client: Client, as_json: bool, name: str, json_args: str, queue: str | None, delay: float,
    json_kwargs: str | None, retry: bool | int | None, requires: tuple[str, ...],
) -> None:
    """Push a job by name: a roadie job name such as app.jobs.send_mail, or a Ruby class such as HardJob.

    JSON_ARGS is a JSON array of positional arguments, for example '[1, "two"]'.
    Without -r the job hash carries only the options given here, so a roadie
    job's own queue and retry options do not apply.
    """
    args = _parse_json(json_args, list, "JSON_ARGS", "a JSON array, such as '[1, \"two\"]'")
    kwargs: dict[str, Any] = {}
    if json_kwargs is not None:
        kwargs = _parse_json(json_kwargs, dict, "--kwargs", "a JSON object, such as '{\"user_id\": 42}'")
    options: dict[str, Any] = {"queue": queue, "retry": retry}
    options = {key: value for key, value in options.items() if value is not None}
    at = now() + delay if delay > 0 else None
    try:
        if requires:
            queue, jid = _enqueue_registered(client, name, args, kwargs, options, at, requires)
        else:
            queue = options.setdefault("queue", "default")
            job: dict[str, Any] = {"class": name, "args": args, **options}
            if kwargs:
                job["kwargs"] = kwargs
            if at is not None:
                job["at"] = at
            jid = client.push(job)
    except JobArgumentError as exc:
        raise click.UsageError(str(exc)) from None

    if as_json:
        _print_json({"jid": jid, "class": name, "queue": queue, "at": at})
    elif jid is None:
        click.echo("a client middleware stopped the push; nothing was enqueued")
    elif at is None:
        click.echo(f"enqueued {name} to queue {queue} with jid {jid}")
    else:
        click.echo(f"scheduled {name} for queue {queue} at {_iso(at)} with jid {jid}")


def _enqueue_registered(
    client: Client, name: str, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any],
    at: float | None, requires: Sequence[str],
) -> tuple[str, str | None]:
    """Import ``requires``, then push through the roadie job ``name`` so its options apply; return queue and jid."""
    from roadie._imports import import_module_or_path
    from roadie.jobs import get_job, registered_jobs

    for target in requires:
        import_module_or_path(target)
    job_function = get_job(name)
    if job_function is None:
        known = ", ".join(sorted(registered_jobs())) or "none"
        raise click.ClickException(f"no roadie job named {name!r} in {', '.join(requires)}; registered jobs: {known}")
    handle = job_function.set(client=client, **options)
    queue = str(options.get("queue") or job_function.options.get("queue") or "default")
    if at is None:
        return queue, handle.perform_async(*args, **kwargs)
    return queue, handle.perform_at(at, *args, **kwargs)


def _parse_json(text: str, kind: type, what: str, expected: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"invalid JSON ({exc}); expected {expected}", param_hint=what) from None
    if not isinstance(value, kind):
        raise click.BadParameter(f"got {type(value).__name__}; expected {expected}", param_hint=what)
    return value


# ------------------------------------------------------------ quiet and stop


def _signal_command(verb: str, signal_name: str, summary: str) -> click.Command:
    description = (
        f"{summary} IDENTITY is a process identity from `roadie status`, or a prefix that matches one process."
    )

    @click.command(verb, help=description, epilog=EXIT_CODES_HELP)
    @click.argument("identities", nargs=-1, metavar="[IDENTITY]...")
    @click.option("--all", "all_processes", is_flag=True, help=f"{verb} every live process")
    @_admin_command
    def command(client: Client, as_json: bool, identities: tuple[str, ...], all_processes: bool) -> None:
        from roadie import api

        if all_processes == bool(identities):
            raise click.UsageError("give process identities or --all, one of the two")
        processes = api.ProcessSet(client)
        targets = list(processes) if all_processes else [_find_process(processes, name) for name in identities]
        for process in targets:
            process.signal(signal_name)
        names = [process.identity for process in targets]
        if as_json:
            _print_json({"action": verb, "signal": signal_name, "identities": names})
        elif not names:
            click.echo("no live processes")
        else:
            for name in names:
                click.echo(f"sent {signal_name} to {name}; it obeys at its next heartbeat")

    return command


def _find_process(processes: api.ProcessSet, name: str) -> api.Process:
    exact = processes.get(name)
    if exact is not None:
        return exact
    matches = [process for process in processes if process.identity.startswith(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise click.ClickException(f"no live process with identity {name!r}; `roadie status` lists them")
    raise click.ClickException(
        f"{name!r} matches {len(matches)} processes ({', '.join(process.identity for process in matches)}); "
        "give more of the identity"
    )


# --------------------------------------------------------------- registering


def register(group: click.Group) -> None:
    """Add the operator commands to the ``roadie`` command group."""
    for command in (status, queues, enqueue):
        command.epilog = EXIT_CODES_HELP
        group.add_command(command)
    group.add_command(_set_group("retries", "retry", "retry set", "NEXT RETRY", ["retry", "delete", "kill"]))
    group.add_command(_set_group("scheduled", "schedule", "scheduled set", "WHEN", ["add-to-queue", "delete"]))
    group.add_command(_set_group("dead", "dead", "dead set", "DIED", ["retry", "delete"]))
    group.add_command(_signal_command(
        "quiet", "TSTP", "Ask processes to stop fetching jobs; running jobs finish and the process waits for stop."
    ))
    group.add_command(_signal_command(
        "stop", "TERM", "Ask processes to shut down: running jobs get the worker's timeout to finish."
    ))

