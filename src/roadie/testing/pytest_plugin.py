"""pytest fixtures for applications that use roadie.

Enable with ``pytest_plugins = ["roadie.testing.pytest_plugin"]`` in a
conftest.py or ``-p roadie.testing.pytest_plugin`` on the command line.

- ``roadie_redis``: a private Redis server on a free loopback port, for the
  whole session (:class:`~roadie.storage.embedded.EmbeddedRedis`).
- ``roadie_client``: a :class:`~roadie.client.Client` on that server's
  database, emptied first. It is also made the process default for the test,
  so ``perform_async`` pushes there.
- ``roadie_worker``: a function that runs a burst-mode worker in this process
  until every queue is empty and no scheduled or retry job is due.
- ``roadie_fake`` and ``roadie_inline``: the test runs in
  :func:`roadie.testing.fake` or :func:`roadie.testing.inline` mode; the
  fixture's value is the mode object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import redis

from roadie import testing
from roadie.client import Client, _reset_defaults, configure
from roadie.config import Settings
from roadie.jobs import registered_jobs
from roadie.testing.modes import FakeMode, InlineMode

if TYPE_CHECKING:
    from roadie.storage.embedded import EmbeddedRedis
    from roadie.worker.launcher import Launcher

__all__ = ["roadie_client", "roadie_fake", "roadie_inline", "roadie_redis", "roadie_worker"]

# Seconds roadie_worker waits for the queues to empty before it fails the test.
WORKER_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def roadie_redis() -> Iterator[EmbeddedRedis]:
    """Start a private Redis server on a free loopback port, shared by the session's tests."""
    from roadie.storage.embedded import EmbeddedRedis

    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def roadie_client(roadie_redis: EmbeddedRedis) -> Iterator[Client]:
    """Return a Client on the private server's emptied database, also the process default for the test.

    Settings come from roadie.yml and the environment as usual, with the
    Redis URL replaced by the private server's.
    """
    connection = redis.Redis.from_url(roadie_redis.url)
    try:
        connection.flushdb()
    finally:
        connection.close()
    settings = configure(settings=Settings.load(overrides={"redis_url": roadie_redis.url}))
    client = Client(settings=settings)
    try:
        yield client
    finally:
        client.close()
        _reset_defaults()


@pytest.fixture
def roadie_worker(roadie_client: Client) -> Callable[..., Launcher]:
    """A function that runs a burst-mode worker here on the registered jobs and returns its Launcher.

    ``roadie_worker()`` fetches from every queue in Redis's ``queues`` set,
    every queue a registered job names, and ``default``, in that order;
    ``roadie_worker(queues=["a", "b"])`` from those only. Other keyword arguments are settings, such as
    ``concurrency=2``. ``timeout`` is how many seconds to wait for the
    queues to empty before the test fails.
    """

    # Imported here so that loading the plugin does not load the worker.
    from roadie.worker.launcher import Launcher

    def run(*, queues: list[str] | None = None, timeout: float = WORKER_TIMEOUT, **changes: Any) -> Launcher:
        settings = roadie_client.settings.replace(queues=queues or _known_queues(roadie_client), **changes)
        launcher = Launcher(settings, burst=True)
        launcher.start()
        try:
            finished = launcher._stop_requested.wait(timeout)
        finally:
            launcher.stop()
        if not finished:
            pytest.fail(f"roadie_worker: the queues were not empty after {timeout} s; is a job stuck?")
        return launcher

    return run


@pytest.fixture
def roadie_fake() -> Iterator[FakeMode]:
    """Run the test in fake mode; the value is the :class:`~roadie.testing.FakeMode` with the captured jobs."""
    with testing.fake() as mode:
        yield mode


@pytest.fixture
def roadie_inline() -> Iterator[InlineMode]:
    """Run the test in inline mode: each job runs when it is enqueued."""
    with testing.inline() as mode:
        yield mode


def _known_queues(client: Client) -> list[str]:
    members = client.connection.smembers(client.keys.queues)
    names = {raw.decode() if isinstance(raw, bytes) else raw for raw in members}
    for job_function in registered_jobs().values():
        names.add(job_function.queue)
        names.add(job_function.options.get("retry_queue", "default"))
    names.discard("default")
    return [*sorted(names), "default"]
