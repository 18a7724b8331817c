"""RQ: the default Worker (a fork per job) and SimpleWorker (jobs in the worker process). No concurrency option."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import System, WorkerCommand


def _worker(worker_class: str | None) -> WorkerCommand:
    def command(queues: Sequence[str], redis_url: str) -> list[str]:
        extra = ["-w", worker_class] if worker_class else []
        return [venv_bin("rq", "rq"), "worker", "-u", redis_url, "-S", "json", "--logging_level", "WARNING",
                *extra, "default"]

    return command


_COMMON = dict(family="rq", bulk_method="Queue.enqueue_many, one pipeline", single_method="Queue.enqueue",
               app="rq_app")

SYSTEMS = [
    # A fork per job runs at tens of jobs a second, so N is capped to keep a run short.
    System(name="rq", label="RQ Worker (fork per job)", concurrency="1 job at a time, fork per job",
           worker=_worker(None), max_jobs=1000, **_COMMON),
    System(name="rq-simple", label="RQ SimpleWorker", concurrency="1 job at a time, in process",
           worker=_worker("rq.worker.SimpleWorker"), **_COMMON),
]
