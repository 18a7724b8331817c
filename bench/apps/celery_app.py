"""Celery with the Redis broker, no result backend, per-task results ignored.

Celery has no bulk-enqueue call; the fastest documented path is one
``apply_async`` per task on a single producer, so the broker connection is
acquired once for the whole loop.
"""

from __future__ import annotations

import os

from celery import Celery

from bench_job import record

app = Celery("bench", broker=os.environ["BENCH_REDIS_URL"])
app.conf.update(
    task_ignore_result=True,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)


@app.task(name="bench.noop")
def noop(n: int) -> None:
    record(n)


def bulk(numbers: range, queue: str | None) -> None:
    with app.producer_or_acquire() as producer:
        for n in numbers:
            noop.apply_async((n,), producer=producer)


def single(n: int, queue: str | None) -> None:
    noop.delay(n)

