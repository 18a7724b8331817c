"""Celery with the Redis broker: the default prefork pool at 2 children (one per core), and threads."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import System, WorkerCommand


def _worker(pool: str, concurrency: int) -> WorkerCommand:
    def command(queues: Sequence[str], redis_url: str) -> list[str]:
        return [venv_bin("celery", "celery"), "-A", "celery_app", "worker", "-P", pool, "-c", str(concurrency),
                "-l", "WARNING"]

    return command


_COMMON = dict(family="celery", bulk_method="apply_async per task on one producer",
               single_method="delay", app="celery_app")

SYSTEMS = [
    System(name="celery-prefork", label="Celery prefork", concurrency="prefork pool, 2 child processes (-c 2)",
           worker=_worker("prefork", 2), **_COMMON),
    System(name="celery-threads", label="Celery threads", concurrency="thread pool, 10 threads (-c 10)",
           worker=_worker("threads", 10), **_COMMON),
]
