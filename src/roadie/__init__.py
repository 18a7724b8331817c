"""roadie: background jobs for Python on Redis, in the data format of Ruby's Sidekiq.

::

    import roadie

    @roadie.job(queue="mailers", retry=5)
    def send_welcome(user_id: int) -> None: ...

    send_welcome.perform_async(42)

Then run ``roadie worker -r myapp.jobs``. Importing roadie connects to
nothing; the names below load their modules on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from roadie._version import __version__

if TYPE_CHECKING:
    from roadie.client import AsyncClient, Client, configure
    from roadie.config import Settings
    from roadie.errors import (
        ConfigError,
        Discard,
        JobArgumentError,
        RedisUnavailableError,
        Retry,
        RoadieError,
    )
    from roadie.jobs import JobFunction, job
    from roadie.middleware import (
        client_middleware,
        death_handlers,
        error_handlers,
        on,
        server_middleware,
    )

__all__ = [
    "AsyncClient",
    "Client",
    "ConfigError",
    "Discard",
    "JobArgumentError",
    "JobFunction",
    "RedisUnavailableError",
    "Retry",
    "RoadieError",
    "Settings",
    "__version__",
    "client_middleware",
    "configure",
    "death_handlers",
    "error_handlers",
    "job",
    "on",
    "server_middleware",
]

_LAZY = {
    "AsyncClient": "roadie.client",
    "Client": "roadie.client",
    "configure": "roadie.client",
    "Settings": "roadie.config",
    "ConfigError": "roadie.errors",
    "Discard": "roadie.errors",
    "JobArgumentError": "roadie.errors",
    "RedisUnavailableError": "roadie.errors",
    "Retry": "roadie.errors",
    "RoadieError": "roadie.errors",
    "JobFunction": "roadie.jobs",
    "job": "roadie.jobs",
    "client_middleware": "roadie.middleware",
    "death_handlers": "roadie.middleware",
    "error_handlers": "roadie.middleware",
    "server_middleware": "roadie.middleware",
    "on": "roadie.middleware",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'roadie' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
