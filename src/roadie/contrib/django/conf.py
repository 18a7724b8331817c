"""Read ``settings.ROADIE`` and apply it: roadie's default settings, the job middleware, the commit hook.

``settings.ROADIE`` contains the keys of roadie.yml plus these Django-only keys:

- ``defer_until_commit`` (default True): a job enqueued inside
  ``transaction.atomic()`` is pushed when the transaction commits, and never
  if it rolls back.
- ``autodiscover`` (default ``["jobs"]``, plus ``"tasks"`` when a
  ``TASKS`` backend is :class:`~roadie.contrib.django.tasks.RoadieBackend`):
  module names imported from every installed app before a roadie command runs.
- ``dashboard_permission`` (default: active staff users): a function of the
  request, or its dotted path, that returns True to allow the dashboard.
- ``dashboard_read_only`` (default False): hide the dashboard's actions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings as django_settings

from roadie import jobs as jobs_module
from roadie.client import configure
from roadie.config import Settings
from roadie.errors import ConfigError
from roadie.middleware import server_middleware

__all__ = ["DjangoOptions", "install", "load", "reinstall_on_change"]

SETTING_NAME = "ROADIE"
TASKS_BACKEND = "roadie.contrib.django.tasks.RoadieBackend"


@dataclass(frozen=True)
class DjangoOptions:
    """The Django-only keys of ``settings.ROADIE``, with their defaults."""

    defer_until_commit: bool = True
    autodiscover: tuple[str, ...] = ("jobs",)
    dashboard_permission: Callable[[Any], bool] | str | None = None
    dashboard_read_only: bool = False
    # The roadie.yml keys given in settings.ROADIE, which the forwarding
    # management command passes on to the roadie command.
    configured: tuple[str, ...] = field(default=())


_DJANGO_KEYS = ("defer_until_commit", "autodiscover", "dashboard_permission", "dashboard_read_only")


def load() -> tuple[Settings, DjangoOptions]:
    """Return roadie's Settings and the Django-only options from ``settings.ROADIE``.

    Raises ConfigError for an unknown key or an invalid value.
    """
    raw = getattr(django_settings, SETTING_NAME, None) or {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"settings.{SETTING_NAME} must be a dict of roadie settings, got {type(raw).__name__}")
    django_values = {key: raw[key] for key in _DJANGO_KEYS if key in raw}
    roadie_values = {key: value for key, value in raw.items() if key not in _DJANGO_KEYS}

    defer = django_values.get("defer_until_commit", True)
    if not isinstance(defer, bool):
        raise ConfigError(f"settings.{SETTING_NAME}['defer_until_commit'] must be True or False, got {defer!r}")
    discover = django_values.get("autodiscover")
    if discover is None:
        discover = ["jobs", "tasks"] if _uses_tasks_backend() else ["jobs"]
    if isinstance(discover, str) or not all(isinstance(name, str) for name in discover):
        raise ConfigError(
            f"settings.{SETTING_NAME}['autodiscover'] must be a list of module names such as ['jobs'], "
            f"got {discover!r}"
        )
    read_only = django_values.get("dashboard_read_only", False)
    if not isinstance(read_only, bool):
        raise ConfigError(f"settings.{SETTING_NAME}['dashboard_read_only'] must be True or False, got {read_only!r}")

    options = DjangoOptions(
        defer_until_commit=defer,
        autodiscover=tuple(discover),
        dashboard_permission=django_values.get("dashboard_permission"),
        dashboard_read_only=read_only,
        configured=tuple(roadie_values),
    )
    try:
        return Settings.load(overrides=roadie_values), options
    except ConfigError as exc:
        raise ConfigError(f"settings.{SETTING_NAME}: {exc}") from None


_installed_options = DjangoOptions()


def install() -> DjangoOptions:
    """Apply ``settings.ROADIE``: make its settings roadie's default, add the middleware and the commit hook."""
    global _installed_options
    from roadie.contrib.django.middleware import close_old_connections
    from roadie.contrib.django.transactions import defer_until_commit

    roadie_settings, options = load()
    configure(settings=roadie_settings)
    server_middleware.add(close_old_connections)
    if _uses_tasks_backend():
        from roadie.contrib.django.tasks import remember_job

        server_middleware.add(remember_job)
    jobs_module._push_wrapper = defer_until_commit if options.defer_until_commit else None
    _installed_options = options
    return options


def installed_options() -> DjangoOptions:
    """Return the Django-only options applied last by :func:`install`."""
    return _installed_options


def reinstall_on_change(*, setting: str, **kwargs: Any) -> None:
    """Apply ``settings.ROADIE`` again when a test changes it with ``override_settings``."""
    if setting in (SETTING_NAME, "TASKS"):
        install()


def _uses_tasks_backend() -> bool:
    backends = getattr(django_settings, "TASKS", None) or {}
    return any(isinstance(entry, Mapping) and entry.get("BACKEND") == TASKS_BACKEND for entry in backends.values())
