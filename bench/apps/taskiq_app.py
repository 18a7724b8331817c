"""Taskiq with taskiq-redis's ListQueueBroker and no result backend.

Start: ``taskiq worker taskiq_app:broker --workers 1 --max-async-tasks 10``.
Taskiq has no bulk-enqueue call; ``bulk`` runs ``kiq`` 100 at a time with
``asyncio.gather``.
"""

from __future__ import annotations

import asyncio
import os

from taskiq_redis import ListQueueBroker

from bench_job import record

broker = ListQueueBroker(os.environ["BENCH_REDIS_URL"])
_GATHER = 100


@broker.task(task_name="noop")
async def noop(n: int) -> None:
    record(n)


async def setup() -> None:
    await broker.startup()


async def close() -> None:
    await broker.shutdown()


async def bulk(numbers: range, queue: str | None) -> None:
    for start in range(0, len(numbers), _GATHER):
        await asyncio.gather(*(noop.kiq(n) for n in numbers[start:start + _GATHER]))


async def single(n: int, queue: str | None) -> None:
    await noop.kiq(n)
