"""Taskiq with taskiq-redis's ListQueueBroker: one worker process, 10 async tasks at a time."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import System


def _worker(queues: Sequence[str], redis_url: str) -> list[str]:
    return [venv_bin("taskiq", "taskiq"), "worker", "taskiq_app:broker", "--workers", "1",
            "--max-async-tasks", "10", "--log-level", "WARNING"]


SYSTEMS = [
    System(name="taskiq", family="taskiq", label="Taskiq", concurrency="1 worker process, 10 async tasks",
           bulk_method="kiq, 100 at a time with gather", single_method="kiq", app="taskiq_app",
           worker=_worker),
]
