"""``roadie demo``: run a real worker on a mix of jobs and print what happened.

The demo shows, end to end:

* a private Redis server, or keys under ``roadie-demo:`` in the Redis that
  ``--redis-url`` names;
* enqueueing through a :class:`roadie.Client` with ``perform_bulk``,
  ``perform_async`` and ``perform_in``;
* sync jobs that download pages from a local HTTP server, an ``async def``
  job that downloads them concurrently, a job that raises ``Retry`` twice
  before it succeeds, and a scheduled job;
* a ``roadie worker`` subprocess, stopped with SIGTERM once Redis shows that
  no job is queued, running, scheduled or waiting to retry.

The jobs live in :mod:`roadie.cli.demo_jobs`, and each writes one line to
``report.txt`` in the output folder.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click

from roadie.cli import demo_jobs
from roadie.client import Client
from roadie.config import Settings, redact_url
from roadie.storage.redis import CONNECTION_ERRORS, unavailable

__all__ = ["NAMESPACE", "run_demo"]

NAMESPACE = "roadie-demo"
QUEUE = "default"
SCHEDULE_DELAY = 3.0
# Seconds from the worker's start until every job must be done. The demo's
# jobs need a few seconds, so this leaves room for a slow or busy machine.
DEADLINE_SECONDS = 60.0
WORKER_STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.2
WORKER_LOG_FILE = "worker.log"
LOG_TAIL_LINES = 30

# Environment variables that would change the worker's settings. The demo
# removes them because it passes every setting the worker needs as a flag.
_OTHER_SETTINGS_VARIABLES = ("REDIS_URL", "REDIS_PROVIDER", "APP_ENV")


def run_demo(redis_url: str | None = None, output: str | None = None) -> int:
    """Run the demo and print a summary. Return 0 when every expected job ran, else 1."""
    with contextlib.ExitStack() as stack:
        url, namespace = stack.enter_context(_demo_redis(redis_url))
        settings = Settings(redis_url=url, namespace=namespace)
        client = stack.enter_context(Client(url, settings=settings))
        _check_connection(client)
        before = _read_counts(client)
        folder = _prepare_output(output)
        click.echo(f"output folder: {folder}")
        page_urls = stack.enter_context(demo_jobs.product_site())
        click.echo(f"serving {len(page_urls)} product pages: {page_urls[0]} to {page_urls[-1]}")

        _enqueue_jobs(client, page_urls)
        started = time.monotonic()
        worker = _start_worker(url, namespace, folder)
        # Stops the worker when an error or Ctrl-C ends the demo early.
        stack.callback(_stop_worker, worker)
        finished = _run_jobs(client, worker, started + DEADLINE_SECONDS)
        elapsed = time.monotonic() - started
        exited_early = worker.poll() is not None
        worker_exit_code = _stop_worker(worker)
        click.echo(f"stopped the worker (exit code {worker_exit_code})")
        after = _read_counts(client)

    problems = []
    if exited_early:
        problems.append(f"the worker exited with code {worker_exit_code} before every job was done")
    elif not finished:
        problems.append(f"jobs were still pending {DEADLINE_SECONDS:.0f} s after the worker started")
    elif worker_exit_code != 0:
        problems.append(f"the worker exited with code {worker_exit_code} after SIGTERM")
    if after.dead > before.dead:
        problems.append(f"{after.dead - before.dead} jobs went to the dead set")
    problems += _check_report(folder, len(page_urls))

    _print_summary(folder, before, after, elapsed)
    if problems:
        _print_problems(folder, problems)
        return 1
    click.echo("\nevery demo job ran")
    return 0


# ------------------------------------------------------------------ set-up


def _prepare_output(output: str | None) -> Path:
    """Return the output folder: a new temporary one, or ``output`` when it is empty or missing."""
    if output is None:
        return Path(tempfile.mkdtemp(prefix="roadie-demo-"))
    folder = Path(output).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.iterdir()):
        raise click.ClickException(f"output folder {folder} is not empty. Pass a new or empty folder.")
    return folder


@contextlib.contextmanager
def _demo_redis(redis_url: str | None) -> Iterator[tuple[str, str]]:
    """Yield the Redis URL and namespace: a private server, or ``redis_url`` with the demo namespace."""
    if redis_url is not None:
        click.echo(f"using the Redis at {redact_url(redis_url)}; the demo writes only keys under '{NAMESPACE}:'")
        yield redis_url, NAMESPACE
        return

    from roadie.storage.embedded import EmbeddedRedis

    server = EmbeddedRedis()
    server.start()
    # redis-server or valkey-server, whichever EmbeddedRedis found.
    server_name = Path(server.binary).name
    try:
        click.echo(f"started a private {server_name} {server.version} at {server.url}")
        yield server.url, ""
    finally:
        server.stop()
        click.echo(f"stopped the private {server_name}")


def _check_connection(client: Client) -> None:
    try:
        client.connection.ping()
    except CONNECTION_ERRORS as exc:
        raise unavailable(client.url, exc) from exc


# ----------------------------------------------------------------- enqueue


def _enqueue_jobs(client: Client, page_urls: list[str]) -> None:
    """Enqueue every demo job except the summary, which runs after the others."""
    demo_jobs.fetch_page.set(client=client).perform_bulk([[url] for url in page_urls])
    click.echo(f"enqueued {len(page_urls)} demo.FetchPage jobs with perform_bulk")

    demo_jobs.flaky_job.set(client=client).perform_async()
    click.echo(
        f"enqueued demo.FlakyJob with perform_async; it raises Retry(in_=1) {demo_jobs.FLAKY_FAILURES} times, "
        "then succeeds"
    )

    demo_jobs.scheduled_job.set(client=client).perform_in(SCHEDULE_DELAY, time.time(), SCHEDULE_DELAY)
    click.echo(f"enqueued demo.ScheduledJob with perform_in({SCHEDULE_DELAY:g})")

    demo_jobs.checksum_pages.set(client=client).perform_async(page_urls)
    click.echo("enqueued demo.ChecksumPages, an async def job, with perform_async")


# ------------------------------------------------------------------ worker


def _worker_environment(folder: Path) -> dict[str, str]:
    """Return this process's environment without roadie settings, plus the jobs' output folder."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _OTHER_SETTINGS_VARIABLES
        and not (name.startswith("ROADIE_") and name != "ROADIE_REDIS_SERVER")
    }
    env[demo_jobs.OUTPUT_DIR_ENV_VAR] = str(folder)
    return env


def _start_worker(url: str, namespace: str, folder: Path) -> subprocess.Popen[bytes]:
    """Start ``roadie worker`` on the demo jobs, logging to worker.log in ``folder``."""
    command = [
        sys.executable, "-m", "roadie", "worker",
        "-r", demo_jobs.__name__,
        "--redis-url", url,
        "-q", QUEUE,
        "-c", "5",
        "-t", "5",
        "--tag", "roadie-demo",
    ]  # fmt: skip
    if namespace:
        command += ["--namespace", namespace]
    # The worker runs in the output folder so it reads no roadie.yml from the
    # folder the demo was started in.
    with open(folder / WORKER_LOG_FILE, "ab") as log_file:
        worker = subprocess.Popen(
            command, cwd=folder, env=_worker_environment(folder), stdin=subprocess.DEVNULL,
            stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    click.echo(f"started roadie worker, pid {worker.pid}, logging to {folder / WORKER_LOG_FILE}")
    return worker


def _run_jobs(client: Client, worker: subprocess.Popen[bytes], deadline: float) -> bool:
    """Wait for the enqueued jobs, then run the summary job and wait for it.

    Returns False when the deadline passes or the worker exits first.
    """
    identity = _wait_for_registration(client, worker, deadline)
    if identity is None or not _wait_until_idle(client, worker, identity, deadline):
        return False

    demo_jobs.write_summary.set(client=client).perform_async()
    click.echo("every job is done; enqueued demo.WriteSummary with perform_async")
    return _wait_until_idle(client, worker, identity, deadline)


def _wait_for_registration(client: Client, worker: subprocess.Popen[bytes], deadline: float) -> str | None:
    """Return the worker's identity once it is in the fetchers set, or None if it exited or the deadline passed.

    A worker registers before its first fetch, so from then on its
    in-progress list contains every job it has taken and not yet acknowledged.
    """
    while time.monotonic() < deadline and worker.poll() is None:
        for raw in client.connection.smembers(client.keys.fetchers):
            identity = raw.decode()
            # Identities are host:pid:random, and a host name may contain ':'.
            if identity.rsplit(":", 2)[-2:-1] == [str(worker.pid)]:
                return identity
        time.sleep(POLL_INTERVAL)
    return None


@dataclass(frozen=True)
class _Pending:
    queued: int
    running: int
    scheduled: int
    retrying: int
    # Epoch seconds at which the next scheduled job or retry is due, if any.
    next_due: float | None

    @property
    def total(self) -> int:
        return self.queued + self.running + self.scheduled + self.retrying

    def describe(self) -> str:
        text = (
            f"{self.queued} queued, {self.running} running, "
            f"{self.scheduled} scheduled, {self.retrying} waiting to retry"
        )
        if self.queued == 0 and self.running == 0 and self.next_due is not None:
            text += f"; the next one is due in {max(self.next_due - time.time(), 0.0):.1f} s"
        return text


def _read_pending(client: Client, identity: str) -> _Pending:
    """Count the demo's unfinished jobs in one MULTI, so no job is seen in two places or none.

    Every move between the queue, the in-progress list and the retry and
    schedule sets is atomic in Redis, so a job is in exactly one of them
    until it is acknowledged.
    """
    keys = client.keys
    with client.connection.pipeline(transaction=True) as pipe:
        pipe.llen(keys.queue(QUEUE))
        pipe.llen(keys.inprogress(identity, QUEUE))
        pipe.zcard(keys.schedule)
        pipe.zcard(keys.retry)
        pipe.zrange(keys.schedule, 0, 0, withscores=True)
        pipe.zrange(keys.retry, 0, 0, withscores=True)
        queued, running, scheduled, retrying, first_scheduled, first_retry = pipe.execute()
    due_times = [score for _, score in first_scheduled + first_retry]
    return _Pending(queued, running, scheduled, retrying, min(due_times) if due_times else None)


def _wait_until_idle(client: Client, worker: subprocess.Popen[bytes], identity: str, deadline: float) -> bool:
    """Poll until no job is pending, and print the counts when they change.

    Returns False when the deadline passes or the worker exits first.
    """
    last: _Pending | None = None
    while time.monotonic() < deadline and worker.poll() is None:
        pending = _read_pending(client, identity)
        if pending.total == 0:
            return True
        if pending != last:
            click.echo(f"  waiting: {pending.describe()}")
            last = pending
        time.sleep(POLL_INTERVAL)
    return False


def _stop_worker(worker: subprocess.Popen[bytes]) -> int:
    """Send SIGTERM, wait for the worker to exit and return its exit code.

    A worker still running after WORKER_STOP_TIMEOUT seconds gets SIGKILL.
    Calling this again after the worker exited only returns the exit code.
    """
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            click.echo(f"the worker did not exit {WORKER_STOP_TIMEOUT:.0f} s after SIGTERM; killing it")
            worker.kill()
            worker.wait()
    return worker.returncode


# ----------------------------------------------------------------- summary


@dataclass(frozen=True)
class _Counts:
    processed: int
    failed: int
    dead: int


def _read_counts(client: Client) -> _Counts:
    """Read the processed and failed counters and the dead-set size.

    The worker writes its counters to Redis on each heartbeat and when it stops.
    """
    keys = client.keys
    with client.connection.pipeline(transaction=False) as pipe:
        pipe.get(keys.stat_processed)
        pipe.get(keys.stat_failed)
        pipe.zcard(keys.dead)
        processed, failed, dead = pipe.execute()
    return _Counts(int(processed or 0), int(failed or 0), int(dead))


def _report_lines(folder: Path) -> list[str]:
    path = folder / demo_jobs.REPORT_FILE
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def _check_report(folder: Path, page_count: int) -> list[str]:
    """Return what is missing from report.txt, one sentence per missing job."""
    lines = _report_lines(folder)
    problems = []
    fetched = sum(1 for line in lines if line.startswith("fetch "))
    if fetched != page_count:
        problems.append(f"demo.FetchPage reported {fetched} of {page_count} pages")
    for label, job in (
        ("retry", "demo.FlakyJob"),
        ("scheduled", "demo.ScheduledJob"),
        ("async", "demo.ChecksumPages"),
        ("summary", "demo.WriteSummary"),
    ):
        if not any(line.startswith(label + " ") for line in lines):
            problems.append(f"{job} did not report success")
    return problems


def _print_summary(folder: Path, before: _Counts, after: _Counts, elapsed: float) -> None:
    lines = _report_lines(folder)
    attempts_path = folder / demo_jobs.ATTEMPTS_FILE
    attempts = int(attempts_path.read_text()) if attempts_path.exists() else 0
    scheduled = next((line.split(None, 1)[1] for line in lines if line.startswith("scheduled ")), "did not run")

    click.echo("\nsummary")
    click.echo(f"  processed  {after.processed - before.processed} job runs")
    click.echo(f"  failed     {after.failed - before.failed} job runs")
    click.echo(f"  retried    {max(attempts - 1, 0)} (demo.FlakyJob attempts: {attempts})")
    click.echo(f"  scheduled  1, {scheduled}")
    click.echo(f"  dead       {after.dead - before.dead}")
    click.echo(f"  elapsed    {elapsed:.1f} s")
    click.echo(f"  report     {folder / demo_jobs.REPORT_FILE}")
    click.echo(f"  worker log {folder / WORKER_LOG_FILE}")

    click.echo(f"\n{demo_jobs.REPORT_FILE}, one line per job that succeeded:")
    for line in lines or ["(empty)"]:
        click.echo(f"  {line}")


def _print_problems(folder: Path, problems: list[str]) -> None:
    click.echo("\nthe demo failed:")
    for problem in problems:
        click.echo(f"  - {problem}")
    log_path = folder / WORKER_LOG_FILE
    if log_path.exists():
        tail = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        click.echo(f"\nlast lines of {log_path}:")
        for line in tail:
            click.echo(f"  {line}")
