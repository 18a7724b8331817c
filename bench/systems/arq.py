"""arq: one asyncio worker, max_jobs 10 (its default)."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import System


def _worker(queues: Sequence[str], redis_url: str) -> list[str]:
    # arq_app.py starts the worker itself with logging at WARNING.
    return [venv_bin("arq", "python"), "arq_app.py"]


SYSTEMS = [
    System(name="arq", family="arq", label="arq", concurrency="1 process, asyncio, max_jobs 10",
           bulk_method="enqueue_job, 100 at a time with gather", single_method="enqueue_job", app="arq_app",
           worker=_worker),
]
