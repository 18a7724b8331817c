"""Ruby Sidekiq (Debian's 6.4 package), the reference that roadie's data format follows."""

from __future__ import annotations

from collections.abc import Sequence

from systems import PHASES, System, app_path


def _worker(queues: Sequence[str], redis_url: str) -> list[str]:
    flags = [part for queue in queues or ["default"] for part in ("-q", queue)]
    # Sidekiq reads REDIS_URL. sidekiq_app.rb sets the log level to WARN.
    return ["sidekiq", "-r", app_path("sidekiq_app.rb"), "-c", "10", *flags]


class _Sidekiq(System):
    def enqueue_command(self, mode: str, jobs: int, first: int, queue: str | None) -> list[str]:
        return ["ruby", "sidekiq_enqueue.rb", mode, str(jobs), str(first), queue or "default"]


SYSTEMS = [
    _Sidekiq(
        name="sidekiq", family="sidekiq", label="Sidekiq (Ruby)",
        concurrency="1 process, 10 threads (-c 10)",
        bulk_method="Sidekiq::Client.push_bulk, one call", single_method="perform_async",
        app="sidekiq_app.rb", worker=_worker, phases=frozenset(PHASES), named_queues=True,
        # The scheduled-job poller first runs 10 to 15 s after start (Sidekiq 6.4's initial wait).
        schedule_settle=16.0,
    ),
]
