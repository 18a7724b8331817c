"""Dramatiq with its Redis broker: one worker process with 10 threads."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import System


def _worker(queues: Sequence[str], redis_url: str) -> list[str]:
    return [venv_bin("dramatiq", "dramatiq"), "dramatiq_app", "-p", "1", "-t", "10"]


SYSTEMS = [
    System(name="dramatiq", family="dramatiq", label="Dramatiq", concurrency="1 process, 10 threads (-p 1 -t 10)",
           bulk_method="send per message (no bulk call)", single_method="send", app="dramatiq_app",
           worker=_worker),
]
