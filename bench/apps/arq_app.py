"""arq: an async job, ``max_jobs`` 10. Run ``python arq_app.py`` to start a worker.

arq has no bulk-enqueue call; ``bulk`` runs ``enqueue_job`` 100 at a time
with ``asyncio.gather`` on one connection pool. The worker is started here
rather than with the ``arq`` command because that command always logs each
job at INFO.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import run_worker

from bench_job import record

REDIS = RedisSettings.from_dsn(os.environ["BENCH_REDIS_URL"])
_GATHER = 100
_pool: Any = None


async def noop(ctx: dict[str, Any], n: int) -> None:
    record(n)


class WorkerSettings:
    functions = [noop]
    redis_settings = REDIS
    max_jobs = 10
    keep_result = 0


async def setup() -> None:
    global _pool
    _pool = await create_pool(REDIS)


async def close() -> None:
    await _pool.aclose()


async def bulk(numbers: range, queue: str | None) -> None:
    for start in range(0, len(numbers), _GATHER):
        await asyncio.gather(*(_pool.enqueue_job("noop", n) for n in numbers[start:start + _GATHER]))


async def single(n: int, queue: str | None) -> None:
    await _pool.enqueue_job("noop", n)


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    run_worker(WorkerSettings)
