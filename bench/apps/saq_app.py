"""SAQ with its Redis queue, worker concurrency 10 (start: ``saq saq_app.settings``).

SAQ has no bulk-enqueue call; ``bulk`` runs ``enqueue`` 100 at a time with
``asyncio.gather``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from saq import Queue

from bench_job import record

queue = Queue.from_url(os.environ["BENCH_REDIS_URL"])
_GATHER = 100


async def noop(ctx: dict[str, Any], *, n: int) -> None:
    record(n)


settings = {"queue": queue, "functions": [noop], "concurrency": 10}


async def setup() -> None:
    await queue.connect()


async def close() -> None:
    await queue.disconnect()


async def bulk(numbers: range, queue_name: str | None) -> None:
    for start in range(0, len(numbers), _GATHER):
        await asyncio.gather(*(queue.enqueue("noop", n=n) for n in numbers[start:start + _GATHER]))


async def single(n: int, queue_name: str | None) -> None:
    await queue.enqueue("noop", n=n)
