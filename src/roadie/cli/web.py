"""``roadie web``: serve the dashboard with uvicorn.

The dashboard can retry, delete and kill jobs and stop processes, so it binds
to a loopback address unless HTTP basic auth is configured through
``ROADIE_WEB_USERNAME`` and ``ROADIE_WEB_PASSWORD``.
"""

from __future__ import annotations

import ipaddress
import os

import click

from roadie.config import Settings, redact_url
from roadie.errors import RoadieError

__all__ = ["register", "web"]

USERNAME_VARIABLE = "ROADIE_WEB_USERNAME"
PASSWORD_VARIABLE = "ROADIE_WEB_PASSWORD"
DEFAULT_PORT = 7433


def is_loopback(host: str) -> bool:
    """Return True for ``localhost`` and loopback addresses such as 127.0.0.1 and ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def basic_auth_credentials(environ: dict[str, str]) -> tuple[str, str] | None:
    """Return the username and password from the environment, None when neither is set; raise if one is missing."""
    username = environ.get(USERNAME_VARIABLE, "")
    password = environ.get(PASSWORD_VARIABLE, "")
    if not username and not password:
        return None
    if not username or not password:
        missing = USERNAME_VARIABLE if not username else PASSWORD_VARIABLE
        raise click.UsageError(f"{missing} is not set: set both {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, "
                               "or neither")
    return username, password


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="address to listen on; a non-loopback address requires basic auth")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True,
              help="TCP port to listen on")
@click.option("--redis-url", metavar="URL", help="Redis to show [default: REDIS_URL, roadie.yml or localhost]")
@click.option("--namespace", metavar="PREFIX", help="key prefix, as Sidekiq 6 with redis-namespace wrote keys")
@click.option("-C", "--config", type=click.Path(dir_okay=False), help="YAML settings file [default: roadie.yml]")
@click.option("--read-only", is_flag=True, help="hide every action and reject every change")
@click.option("--root-path", default="", metavar="PATH",
              help="path prefix a reverse proxy strips before forwarding, such as /roadie")
def web(host: str, port: int, redis_url: str | None, namespace: str | None, config: str | None,
        read_only: bool, root_path: str) -> None:
    """Serve the dashboard over HTTP until interrupted.

    Set ROADIE_WEB_USERNAME and ROADIE_WEB_PASSWORD to require HTTP basic
    auth; without them only a loopback --host is accepted.
    """
    credentials = basic_auth_credentials(dict(os.environ))
    if credentials is None and not is_loopback(host):
        raise click.UsageError(
            f"refusing to serve the dashboard on {host}, which is not a loopback address, without authentication: "
            f"set {USERNAME_VARIABLE} and {PASSWORD_VARIABLE}, or use --host 127.0.0.1"
        )
    try:
        settings = Settings.load(config, overrides={"redis_url": redis_url, "namespace": namespace})
    except RoadieError as exc:
        raise click.ClickException(str(exc)) from None

    try:
        import uvicorn

        from roadie.web import basic_auth, create_app
    except ImportError as exc:
        raise click.ClickException(
            f"the dashboard needs the web extra ({exc}); install it with: pip install 'roadie[web]' "
            "(from a clone of the repository: pip install '.[web]')"
        ) from None

    auth = basic_auth(*credentials) if credentials else None
    try:
        app = create_app(settings, auth=auth, read_only=read_only, root_path=root_path)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--root-path") from None
    shown_host = f"[{host}]" if ":" in host else host
    click.echo(
        f"roadie dashboard for {redact_url(settings.resolved_redis_url)} at http://{shown_host}:{port}{root_path}/"
        f"{' (read-only)' if read_only else ''}{' with basic auth' if auth else ''}",
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)


def register(group: click.Group) -> None:
    """Add ``roadie web`` to the ``roadie`` command group."""
    group.add_command(web)
