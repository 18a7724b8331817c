"""Testing modes in the manner of Sidekiq's: enqueue without Redis, then inspect or run the jobs.

::

    import roadie.testing

    with roadie.testing.fake():
        send_welcome.perform_async(42)
        assert send_welcome.jobs[0]["args"] == [42]
        send_welcome.drain()            # runs it here, and any job it enqueues

    @roadie.testing.inline()            # each job runs when it is enqueued
    def test_signup(): ...

:func:`fake` keeps each enqueued job hash in memory; ``job.jobs``,
``job.drain()`` and ``job.clear()`` work on those of one job, :func:`jobs`,
:func:`drain_all` and :func:`clear` on all of them. :func:`inline` runs each
job in the enqueuing thread. Both validate and encode jobs as a real push
does, client middleware included, and never connect to Redis. Running a
captured or inline job goes through the server middleware, as in a worker.

A mode applies to the thread or asyncio task that enters it (and tasks it
then creates), so tests running in parallel threads or tasks do not see each
other's jobs. It covers enqueues through job functions (``perform_async``
and the other verbs); ``Client.push`` and ``Client.enqueue`` still write to
Redis. :func:`disable` switches every mode off inside a block.

The pytest plugin :mod:`roadie.testing.pytest_plugin` offers the same as
fixtures, plus a private Redis and an in-process burst-mode worker.
"""

from __future__ import annotations

from typing import Any

from roadie.testing.modes import FakeMode, InlineMode, ModeScope, active_fake

__all__ = ["FakeMode", "InlineMode", "clear", "disable", "drain_all", "fake", "inline", "jobs"]


def fake() -> ModeScope:
    """Capture jobs in memory instead of pushing them, as a context manager or decorator.

    ``with fake() as mode:`` binds the :class:`FakeMode`; each ``with`` block
    and each call of a decorated function starts with no captured jobs.
    """
    return ModeScope(FakeMode)


def inline() -> ModeScope:
    """Run each job in-process when it is enqueued, as a context manager or decorator.

    The job's arguments go through JSON first, as they would through Redis.
    An exception the job raises propagates to the ``perform_async`` call.
    """
    return ModeScope(InlineMode)


def disable() -> ModeScope:
    """Push jobs to Redis again inside a fake or inline block, as a context manager or decorator."""
    return ModeScope(lambda: None)


def jobs(queue: str | None = None) -> list[dict[str, Any]]:
    """Return every job hash captured by the active fake mode, oldest first, or those of ``queue``."""
    return active_fake().jobs(queue=queue)


def clear() -> None:
    """Forget every job captured by the active fake mode."""
    active_fake().clear()


def drain_all() -> int:
    """Run every captured job, and those they enqueue, until none is left; return how many ran."""
    return active_fake().drain_all()
