"""RQ with the JSON serializer and results not kept. Bulk enqueue is ``Queue.enqueue_many``, one pipeline."""

from __future__ import annotations

import os

from redis import Redis
from rq import Queue
from rq.serializers import JSONSerializer

from bench_job import record

connection = Redis.from_url(os.environ["BENCH_REDIS_URL"])
queue = Queue("default", connection=connection, serializer=JSONSerializer)


def noop(n: int) -> None:
    record(n)


def setup() -> None:
    connection.ping()


def bulk(numbers: range, queue_name: str | None) -> None:
    queue.enqueue_many([Queue.prepare_data(noop, args=(n,), result_ttl=0) for n in numbers])


def single(n: int, queue_name: str | None) -> None:
    queue.enqueue(noop, n, result_ttl=0)
