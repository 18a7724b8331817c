"""The dashboard application: :func:`create_app` and the state every route shares."""

from __future__ import annotations

import secrets
import threading
from pathlib import Path

import redis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from roadie.client import Client, default_client
from roadie.config import Settings, redact_url
from roadie.errors import RedisUnavailableError
from roadie.web.render import build_environment, render
from roadie.web.security import SCOPE_KEY, AuthCallable, Guard
from roadie.web.views import busy, dashboard, metrics, queues, sets

__all__ = ["Dashboard", "create_app"]

STATIC_DIRECTORY = Path(__file__).parent / "static"


class Dashboard:
    """State shared by every route: the Redis client, read-only mode, link prefix, templates and CSRF secret."""

    def __init__(self, target: Settings | Client | str | None, *, read_only: bool, root_path: str,
                 secret: bytes) -> None:
        self._target = target
        self._client: Client | None = target if isinstance(target, Client) else None
        self._lock = threading.Lock()
        self.read_only = read_only
        self.root_path = root_path
        self.secret = secret
        self.templates = build_environment()

    def client(self) -> Client:
        """Return the client to read Redis with; without a URL or settings, the process-wide one."""
        if self._target is None:
            # Looked up per request, so roadie.configure() after create_app() takes effect.
            return default_client()
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if isinstance(self._target, Settings):
                        self._client = Client(settings=self._target)
                    else:
                        self._client = Client(str(self._target))
        return self._client

    def location(self) -> str:
        """Return the Redis URL, password hidden, and the namespace, for the page footer."""
        client = self.client()
        prefix = client.keys.prefix
        return redact_url(client.url) + (f" (namespace {prefix[:-1]})" if prefix else "")


def create_app(
    settings_or_url: Settings | Client | str | None = None,
    *,
    auth: AuthCallable | None = None,
    read_only: bool = False,
    root_path: str = "",
    csrf_secret: bytes | str | None = None,
) -> Starlette:
    """Build the dashboard as an ASGI application.

    ``settings_or_url`` picks the Redis: a Redis URL, :class:`~roadie.config.Settings`,
    a :class:`~roadie.Client`, or None for the process-wide client that
    ``roadie.configure`` sets. ``auth`` is called with each request and returns
    True to let it through or False to respond with 403. It may be async, and
    it may raise ``starlette.exceptions.HTTPException`` to respond with another
    status (see :func:`roadie.web.basic_auth`). ``read_only`` hides every action and
    rejects every POST with 403. ``root_path`` is a path prefix the app cannot
    see in the request, such as one a reverse proxy strips; a host app's mount
    point is found in the request and need not be given.

    ``csrf_secret`` signs the CSRF cookie that browsers without the
    ``Sec-Fetch-Site`` header rely on. By default each app makes a random one,
    so give the same secret to every process behind one load balancer.
    """
    root_path = root_path.rstrip("/")
    if root_path and not root_path.startswith("/"):
        raise ValueError(f"root_path must be empty or start with '/', got {root_path!r}")
    if isinstance(csrf_secret, str):
        csrf_secret = csrf_secret.encode("utf-8")
    state = Dashboard(settings_or_url, read_only=read_only, root_path=root_path,
                      secret=csrf_secret or secrets.token_bytes(32))

    app = Starlette(
        routes=_routes(),
        middleware=[Middleware(Guard, auth=auth, read_only=read_only)],
        exception_handlers={
            HTTPException: _http_error,
            RedisUnavailableError: _redis_unavailable,
            redis.exceptions.ConnectionError: _redis_unavailable,
            redis.exceptions.TimeoutError: _redis_unavailable,
        },
    )
    app.state.dashboard = state
    return app


def _routes() -> list[Route | Mount]:
    return [
        # Listed before the page, which would otherwise handle HEAD too.
        Route("/", dashboard.health, methods=["HEAD"]),
        Route("/", dashboard.index, methods=["GET"], name="dashboard"),
        Route("/stats", dashboard.stats, methods=["GET"], name="stats"),
        Route("/stats/queues", dashboard.stats_queues, methods=["GET"], name="stats_queues"),
        Route("/dashboard/stats", dashboard.stats_redirect, methods=["GET"]),
        Route("/metrics", metrics.index, methods=["GET"], name="metrics"),
        # The path convertor also matches "/", so a job name containing one (sent as %2F) reaches
        # the page, and an empty name reaches the view, which responds 404.
        Route("/metrics/{name:path}", metrics.job, methods=["GET"], name="metrics_job"),
        Route("/busy", busy.page, methods=["GET"], name="busy"),
        Route("/busy", busy.action, methods=["POST"]),
        Route("/queues", queues.index, methods=["GET"], name="queues"),
        Route("/queues/{name}", queues.page, methods=["GET"], name="queue"),
        Route("/queues/{name}", queues.action, methods=["POST"]),
        Route("/queues/{name}/delete", queues.delete_job, methods=["POST"]),
        *sets.routes(),
        Mount("/static", StaticFiles(directory=STATIC_DIRECTORY), name="static"),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if SCOPE_KEY not in request.scope:
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    context = {"status": exc.status_code, "message": exc.detail, "nav": "", "title": f"Error {exc.status_code}"}
    response = render(request, "error.html", context, status=exc.status_code)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _redis_unavailable(request: Request, exc: Exception) -> Response:
    message = str(exc) if isinstance(exc, RedisUnavailableError) else f"Redis could not be reached: {exc}"
    context = {"status": 503, "message": message, "nav": "", "title": "Redis unavailable"}
    return render(request, "error.html", context, status=503)
