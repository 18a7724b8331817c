"""roadie, from this repository: sync jobs on threads, and async jobs on the event loop."""

from __future__ import annotations

from collections.abc import Sequence

from environment import venv_bin
from systems import PHASES, System, WorkerCommand


def _worker(module: str) -> WorkerCommand:
    def command(queues: Sequence[str], redis_url: str) -> list[str]:
        flags = [part for queue in queues or ["default"] for part in ("-q", queue)]
        # The worker reads REDIS_URL; -l warning turns the per-job start and done lines off.
        return [venv_bin("roadie", "roadie"), "worker", "-r", module, *flags, "-c", "10", "-l", "warning"]

    return command


SYSTEMS = [
    System(
        name="roadie", family="roadie", label="roadie",
        concurrency="1 process, 10 threads (-c 10)",
        bulk_method="perform_bulk (pipelines of 1,000)", single_method="perform_async",
        app="roadie_app", worker=_worker("roadie_app"), phases=frozenset(PHASES), named_queues=True,
    ),
    System(
        name="roadie-async", family="roadie", label="roadie, async def job",
        concurrency="1 process, event loop with 10 slots (-c 10)",
        bulk_method="perform_bulk (pipelines of 1,000)", single_method="perform_async",
        app="roadie_async_app", worker=_worker("roadie_async_app"),
    ),
]
