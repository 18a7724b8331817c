"""The ``roadie`` command.

Exit codes: 0 for success, 1 for an error such as an invalid configuration or
an unreachable Redis (the message names it), and 2 for invalid command-line usage.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from roadie._version import __version__
from roadie.cli import admin, web
from roadie.config import DEFAULT_REDIS_URL, SETTINGS, Settings, redact_url
from roadie.errors import RoadieError

__all__ = ["main", "cli"]

# Settings whose flag may be repeated; each use adds one entry.
_REPEATABLE = {"queues", "require", "labels"}


def _setting_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add one option per setting that has flags, with help and default from the settings table."""
    for setting in reversed(SETTINGS):
        if not setting.flags:
            continue
        default = setting.default
        if setting.name == "queues":
            default = "default"
        # A help text that explains its default itself gets no second one.
        shown = "" if default in (None, (), "") or "default:" in setting.help else f" [default: {default}]"
        command = click.option(
            *setting.flags,
            setting.name,
            multiple=setting.name in _REPEATABLE,
            default=None,
            metavar=setting.metavar or None,
            help=f"{setting.help}{shown}",
        )(command)
    return command


def load_settings(config: str | None, options: dict[str, Any], verbose: bool = False) -> Settings:
    """Build settings from the file, environment and the given flag values; exit with a message on error."""
    overrides = {}
    for name, value in options.items():
        if name in _REPEATABLE:
            value = list(value) if value else None
        overrides[name] = value
    if verbose:
        overrides["log_level"] = "debug"
    try:
        return Settings.load(config, overrides=overrides)
    except RoadieError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="roadie")
def cli() -> None:
    """roadie: background jobs for Python on Redis, in Sidekiq's format."""


@cli.command()
@_setting_options
@click.option("-C", "--config", type=click.Path(dir_okay=False),
              help="YAML settings file [default: $ROADIE_CONFIG, else roadie.yml, roadie.yaml or config/roadie.yml "
                   "in the working directory]")
@click.option("-v", "--verbose", is_flag=True, help="log at debug level")
@click.option("--burst", is_flag=True, help="exit once every queue is empty and no scheduled job is due")
@click.option("--embedded", is_flag=True,
              help="start a private Redis on a free loopback port, for local development")
def worker(config: str | None, verbose: bool, burst: bool, embedded: bool, **options: Any) -> None:
    """Run jobs from Redis until TERM or INT (TSTP quiets, TTIN logs every thread's stack)."""
    from roadie._imports import import_module_or_path
    from roadie.client import configure
    from roadie.logs import configure_logging

    if embedded and options.get("redis_url"):
        raise click.UsageError("--embedded starts a private Redis, so it cannot take --redis-url too; drop one of them")
    settings = load_settings(config, options, verbose)
    configure_logging(settings.log_level, settings.log_format)
    server = None
    try:
        if embedded:
            from roadie.storage.embedded import EmbeddedRedis

            if settings.resolved_redis_url != DEFAULT_REDIS_URL:
                click.echo(f"note: --embedded ignores the configured Redis {redact_url(settings.resolved_redis_url)}",
                           err=True)
            server = EmbeddedRedis()
            server.start()
            click.echo(f"started a private Redis-compatible server ({server.version}) at {server.url} for this "
                       "worker; point producers at it with REDIS_URL", err=True)
            settings = settings.replace(redis_url=server.url)
        configure(settings=settings)
        for target in settings.require:
            import_module_or_path(target)

        from roadie.worker.launcher import Launcher

        launcher = Launcher(settings, burst=burst)
        code = launcher.run()
    except RoadieError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if server is not None:
            server.stop()
    sys.exit(code)


@cli.command()
@click.option("--redis-url", metavar="URL",
              help="use this Redis instead of starting a private one; the demo writes only keys under "
                   "a 'roadie-demo' namespace there")
@click.option("--output", type=click.Path(file_okay=False), default=None,
              help="folder for the report [default: a new temporary folder]")
def demo(redis_url: str | None, output: str | None) -> None:
    """Run a worker on a mix of real jobs against a private Redis, then print a summary."""
    from roadie.cli.demo import run_demo

    try:
        code = run_demo(redis_url=redis_url, output=output)
    except RoadieError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


admin.register(cli)
web.register(cli)


def main() -> None:
    """Entry point of the ``roadie`` console script."""
    cli(prog_name="roadie")


