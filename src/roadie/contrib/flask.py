"""Flask integration: settings from ``app.config``, the app context in jobs, a CLI and the dashboard.

::

    from flask import Flask
    from roadie.contrib.flask import Roadie, mount_dashboard

    app = Flask(__name__)
    app.config["ROADIE"] = {"redis_url": "redis://localhost:6379/0", "concurrency": 5}
    Roadie(app)                      # or roadie_ext = Roadie(); roadie_ext.init_app(app)
    mount_dashboard(app, "/roadie")  # optional; needs the web extra

``app.config["ROADIE"]`` takes the keys of roadie.yml. Values there override
roadie.yml and the environment, and ``flask roadie worker ...`` flags
override them in turn. The extension:

- makes those settings roadie's process default, so ``perform_async`` pushes
  to that Redis;
- pushes an application context around each job a worker in this process
  runs, so jobs can use ``current_app`` and extensions bound to it;
- adds ``flask --app APP roadie ...``, which runs any ``roadie`` command
  (``worker``, ``stats``, ...) with the app loaded and its settings applied.

Requires the ``flask`` extra (``pip install 'roadie[flask]'``).
"""

from __future__ import annotations

import hashlib
import hmac

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from roadie.client import configure, default_settings
from roadie.config import Settings
from roadie.errors import ConfigError
from roadie.middleware import server_middleware

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["AppContextMiddleware", "Roadie", "mount_dashboard"]

CONFIG_KEY = "ROADIE"
EXTENSION_NAME = "roadie"


class Roadie:
    """The Flask extension. Pass the app now, or later to :meth:`init_app`."""

    def __init__(self, app: Flask | None = None) -> None:
        self.settings: Settings | None = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Read ``app.config["ROADIE"]``, make it roadie's default, and add the job middleware and the CLI.

        Raises ConfigError for an unknown key or an invalid value.
        """
        config = app.config.get(CONFIG_KEY) or {}
        if not isinstance(config, Mapping):
            raise ConfigError(
                f"app.config[{CONFIG_KEY!r}] must be a dict of roadie settings, got {type(config).__name__}"
            )
        self.settings = configure(settings=Settings.load(overrides=dict(config)))
        app.extensions[EXTENSION_NAME] = _State(self.settings, tuple(config))

        # NOTE: one process runs one app's jobs; the app initialized last wins.
        server_middleware.remove(AppContextMiddleware)
        server_middleware.prepend(AppContextMiddleware(app))
        app.cli.add_command(_roadie_command())


class _State:
    """The value of ``app.extensions["roadie"]``: the settings, and the setting names given in app.config."""

    def __init__(self, settings: Settings, configured: tuple[str, ...]) -> None:
        self.settings = settings
        self.configured = configured


class AppContextMiddleware:
    """Server middleware that runs each job inside ``app.app_context()``."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __repr__(self) -> str:
        return f"AppContextMiddleware({self.app.name!r})"

    def __call__(self, job_function: Any, job: dict[str, Any], queue: str, call_next: Any) -> Any:
        if job_function is not None and job_function.is_async:
            # On the async path call_next() returns a coroutine; the context
            # must stay pushed until it has been awaited.
            return self._run_async(call_next)
        with self.app.app_context():
            return call_next()

    async def _run_async(self, call_next: Any) -> Any:
        with self.app.app_context():
            return await call_next()


def _roadie_command() -> Any:
    import click
    from flask import current_app
    from flask.cli import with_appcontext

    @click.command(
        "roadie",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @with_appcontext
    def roadie_command(args: tuple[str, ...]) -> None:
        """Run a roadie command, such as `worker`, with this app's ROADIE settings."""
        from roadie.contrib._cli import environment_for, run_roadie_command

        state: _State = current_app.extensions[EXTENSION_NAME]
        run_roadie_command(
            args or ("--help",),
            prog_name="flask roadie",
            environment=environment_for(state.settings, state.configured),
        )

    return roadie_command


def mount_dashboard(app: Flask, path: str = "/roadie", *, auth: Any = None, read_only: bool = False) -> None:
    """Serve the roadie dashboard under ``path`` of ``app``, on the Redis of the app's roadie settings.

    ``auth`` and ``read_only`` are passed to :func:`roadie.web.create_app`;
    without ``auth`` anyone who can reach ``path`` can use the dashboard.
    Raises ConfigError when the dashboard's dependencies are missing.
    """
    try:
        from a2wsgi import ASGIMiddleware
        from werkzeug.middleware.dispatcher import DispatcherMiddleware

        from roadie.web import create_app
    except ImportError as exc:
        raise ConfigError(
            f"the roadie dashboard cannot be mounted: {exc}; install it with pip install 'roadie[web]' a2wsgi"
        ) from exc
    if not path.startswith("/") or path == "/":
        raise ConfigError(f"dashboard path must start with '/' and name a prefix, such as '/roadie'; got {path!r}")

    state: _State | None = app.extensions.get(EXTENSION_NAME)
    settings = state.settings if state is not None else default_settings()
    # Every process of the app must sign CSRF tokens alike, so the secret
    # comes from the app's own secret key when it has one.
    csrf_secret = _derived_secret(app.secret_key) if app.secret_key else None
    dashboard = create_app(settings, auth=auth, read_only=read_only, csrf_secret=csrf_secret)
    # a2wsgi's ASGI types are stricter than Starlette's, and the two agree at run time.
    wsgi_dashboard: Any = ASGIMiddleware(cast(Any, dashboard))
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app, {path.rstrip("/"): wsgi_dashboard}
    )


def _derived_secret(secret_key: str | bytes) -> bytes:
    key = secret_key.encode("utf-8") if isinstance(secret_key, str) else secret_key
    return hmac.new(key, b"roadie dashboard csrf", hashlib.sha256).digest()
