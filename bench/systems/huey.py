"""Huey with Redis storage: one consumer with 10 worker threads."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import System


def _worker(queues: Sequence[str], redis_url: str) -> list[str]:
    return [venv_bin("huey", "huey_consumer"), "huey_app.huey", "-w", "10", "-k", "thread", "-q"]


SYSTEMS = [
    System(name="huey", family="huey", label="Huey", concurrency="1 process, 10 threads (-w 10 -k thread)",
           bulk_method="task call per task (no bulk call)", single_method="task call", app="huey_app",
           worker=_worker),
]
