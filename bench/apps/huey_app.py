"""Huey with Redis storage and results off. Huey has no bulk-enqueue call; tasks are called one by one."""

from __future__ import annotations

import os

from huey import RedisHuey

from bench_job import record

huey = RedisHuey("bench", url=os.environ["BENCH_REDIS_URL"], results=False)


@huey.task()
def noop(n: int) -> None:
    record(n)


def bulk(numbers: range, queue: str | None) -> None:
    for n in numbers:
        noop(n)


def single(n: int, queue: str | None) -> None:
    noop(n)
