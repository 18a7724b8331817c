"""The systems under test: how to start each one's worker and enqueuer.

Each module here describes one system family with one or more
:class:`System` entries. The code that runs inside a system's own
processes (the job and the enqueue calls) lives in ``bench/apps``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from environment import APPS_DIR, venv_bin

PHASES = ("throughput", "enqueue", "latency", "schedule", "memory")
FAMILIES = ("roadie", "sidekiq", "celery", "rq", "dramatiq", "arq", "huey", "saq", "taskiq")

# The queues a worker listens to in the latency test of systems that take
# queue names: jobs go to the first one, then to the last one.
LATENCY_QUEUES = ("critical", "default", "low")

# Builds a worker command from the queue names and the Redis URL.
WorkerCommand = Callable[[Sequence[str], str], list[str]]


@dataclass(frozen=True)
class System:
    """One configuration of one job system, as it appears in a table row."""

    name: str  # used in --systems and in the results file
    family: str  # picks the virtualenv and the versions shown
    label: str
    concurrency: str  # how the worker runs jobs, in words
    bulk_method: str  # what the bulk enqueue benchmark calls
    single_method: str  # what the single enqueue benchmark calls
    app: str  # module in bench/apps that defines the job and the enqueue calls
    worker: WorkerCommand
    phases: frozenset[str] = frozenset({"throughput", "enqueue", "latency"})
    named_queues: bool = False  # whether the worker takes queue names
    max_jobs: int | None = None  # cap on N for the throughput test of very slow systems
    schedule_settle: float = 1.0  # idle seconds before scheduling jobs
    env: dict[str, str] = field(default_factory=dict)

    def enqueue_command(self, mode: str, jobs: int, first: int, queue: str | None) -> list[str]:
        """Return the command that enqueues ``jobs`` jobs numbered from ``first`` in ``mode``."""
        command = [venv_bin(self.family, "python"), "bench_enqueue.py", self.app, mode,
                   "--jobs", str(jobs), "--first", str(first)]
        return command + (["--queue", queue] if queue else [])

    def latency_variants(self) -> list[tuple[str, list[str], str | None]]:
        """Return (label, worker queues, target queue) for each latency measurement."""
        if not self.named_queues:
            return [("one queue", [], None)]
        queues = list(LATENCY_QUEUES)
        return [("first of 3 queues", queues, queues[0]), ("last of 3 queues", queues, queues[-1])]


def all_systems() -> list[System]:
    """Return every system, in the order of FAMILIES."""
    systems: list[System] = []
    for family in FAMILIES:
        systems.extend(importlib.import_module(f"systems.{family}").SYSTEMS)
    return systems


def app_path(name: str) -> str:
    return str(APPS_DIR / name)
