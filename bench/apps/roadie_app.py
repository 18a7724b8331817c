"""roadie: a sync job, run on the worker's threads. The client and the worker read ``REDIS_URL``."""

from __future__ import annotations

from typing import Any

import roadie
from roadie.client import default_client
from bench_job import record


@roadie.job(name="BenchNoop", retry=False)
def noop(n: int) -> None:
    record(n)


def _handle(queue: str | None) -> Any:
    """Return the job, or a handle that enqueues it to ``queue``."""
    return noop.set(queue=queue) if queue else noop


def setup() -> None:
    default_client().connection.ping()


def bulk(numbers: range, queue: str | None) -> None:
    _handle(queue).perform_bulk([n] for n in numbers)


def single(n: int, queue: str | None) -> None:
    _handle(queue).perform_async(n)


def at(n: int, when: float, queue: str | None) -> None:
    _handle(queue).perform_at(when, n)
