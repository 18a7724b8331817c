"""FastAPI and Starlette integration: a lifespan, a client dependency, an embedded worker, the dashboard.

::

    from fastapi import Depends, FastAPI
    from roadie import AsyncClient
    from roadie.contrib.fastapi import Roadie, get_client

    roadie_app = Roadie(run_worker=True)        # or Roadie(settings), Roadie() with no worker
    app = FastAPI(lifespan=roadie_app.lifespan)
    roadie_app.mount_dashboard(app, "/roadie")  # optional; needs the web extra

    @app.post("/signup")
    async def signup(client: AsyncClient = Depends(get_client)):
        await send_welcome.aperform_async(42)   # uses the same client

The lifespan makes the given settings roadie's process default (without
settings, roadie.yml and the environment apply), opens the event loop's
default AsyncClient, which ``aperform_async`` and :func:`get_client` use,
and closes it at shutdown. With ``run_worker=True`` it also runs a worker in
the server's process (Sidekiq's embedded mode) from startup to shutdown.
With a lifespan of your own, enter roadie's inside it:
``async with roadie_app.lifespan(app): yield``.

Requires the ``fastapi`` extra, or Starlette alone for everything but the
``Depends`` example.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from roadie.client import AsyncClient, close_default_async_client, configure, default_async_client, default_settings
from roadie.config import Settings
from roadie.contrib._embedded import EmbeddedWorker
from roadie.errors import ConfigError

__all__ = ["Roadie", "get_client", "lifespan"]


class Roadie:
    """roadie for one ASGI application: its settings, its lifespan and, optionally, an embedded worker.

    ``run_worker=True`` runs a worker in this process with
    ``worker_concurrency`` threads on ``worker_queues`` (default: the
    settings' queues). At shutdown, running jobs get ``shutdown_timeout``
    seconds (default: the settings' timeout) before they go back to Redis.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        run_worker: bool = False,
        worker_concurrency: int = 2,
        worker_queues: list[str] | None = None,
        shutdown_timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.run_worker = run_worker
        self.worker_concurrency = worker_concurrency
        self.worker_queues = worker_queues
        self.shutdown_timeout = shutdown_timeout
        self.worker: EmbeddedWorker | None = None

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[dict[str, Any]]:
        """Open the default AsyncClient (and start the worker) for the app's lifetime.

        Yields the lifespan state ``{"roadie_client": client}``, which
        Starlette copies into each ``request.state``.
        """
        settings = configure(settings=self.settings) if self.settings is not None else default_settings()
        client = default_async_client()
        try:
            if self.run_worker:
                self.worker = EmbeddedWorker(
                    settings, concurrency=self.worker_concurrency, queues=self.worker_queues,
                    shutdown_timeout=self.shutdown_timeout,
                )
                await asyncio.to_thread(self.worker.start)
            yield {"roadie_client": client}
        finally:
            if self.worker is not None:
                await asyncio.to_thread(self.worker.stop)
                self.worker = None
            await close_default_async_client()

    def mount_dashboard(
        self, app: Any, path: str = "/roadie", *, auth: Any = None, read_only: bool = False
    ) -> None:
        """Mount the roadie dashboard at ``path`` of a Starlette or FastAPI app.

        ``auth`` and ``read_only`` are passed to :func:`roadie.web.create_app`;
        without ``auth`` anyone who can reach ``path`` can use the dashboard.
        The dashboard reads the Redis of this object's settings, else of the
        process default. Raises ConfigError when the web extra is missing.
        """
        try:
            from roadie.web import create_app
        except ImportError as exc:
            raise ConfigError(
                f"the roadie dashboard cannot be mounted: {exc}; install it with pip install 'roadie[web]'"
            ) from exc
        if not path.startswith("/") or path == "/":
            raise ConfigError(f"dashboard path must start with '/' and name a prefix, such as '/roadie'; got {path!r}")
        app.mount(path.rstrip("/"), create_app(self.settings, auth=auth, read_only=read_only))


@asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[dict[str, Any]]:
    """Open and close the default AsyncClient around the app's lifetime, as ``Roadie().lifespan`` does.

    Settings come from roadie.yml and the environment, and no worker runs.
    """
    async with Roadie().lifespan(app) as state:
        yield state


async def get_client() -> AsyncClient:
    """Return the running loop's default AsyncClient; a dependency for ``Depends(get_client)``."""
    return default_async_client()
