"""Dramatiq with its Redis broker and default middleware.

Dramatiq has no bulk-enqueue call; ``send`` is called once per message.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from bench_job import record

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])
dramatiq.set_broker(broker)


@dramatiq.actor(max_retries=0)
def noop(n: int) -> None:
    record(n)


def setup() -> None:
    broker.client.ping()


def bulk(numbers: range, queue: str | None) -> None:
    for n in numbers:
        noop.send(n)


def single(n: int, queue: str | None) -> None:
    noop.send(n)
