"""roadie: an ``async def`` job, run on the worker's event loop. Enqueued with the sync client."""

from __future__ import annotations

import roadie
from roadie.client import default_client
from bench_job import record


@roadie.job(name="BenchAsyncNoop", retry=False)
async def async_noop(n: int) -> None:
    record(n)


def setup() -> None:
    default_client().connection.ping()


def bulk(numbers: range, queue: str | None) -> None:
    handle = async_noop.set(queue=queue) if queue else async_noop
    handle.perform_bulk([n] for n in numbers)


def single(n: int, queue: str | None) -> None:
    handle = async_noop.set(queue=queue) if queue else async_noop
    handle.perform_async(n)
