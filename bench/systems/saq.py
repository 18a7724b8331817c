"""SAQ with its Redis queue: one worker process, concurrency 10 (its default)."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import System


def _worker(queues: Sequence[str], redis_url: str) -> list[str]:
    return [venv_bin("saq", "saq"), "saq_app.settings", "--workers", "1"]


SYSTEMS = [
    System(name="saq", family="saq", label="SAQ", concurrency="1 process, asyncio, concurrency 10",
           bulk_method="enqueue, 100 at a time with gather", single_method="enqueue", app="saq_app",
           worker=_worker),
]
