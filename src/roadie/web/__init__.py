"""The dashboard: a web UI over roadie's and Sidekiq's data in Redis, at Sidekiq's Web UI paths.

::

    from roadie.web import basic_auth, create_app

    app = create_app("redis://localhost:6379/0", auth=basic_auth("admin", "secret"))

The app is ASGI (Starlette). Serve it with ``roadie web``, with any ASGI
server, or mount it in a Starlette, FastAPI, Flask or Django application;
docs/dashboard.md shows each. It reads and changes Redis only through
:mod:`roadie.api`.
"""

from roadie.web.app import create_app
from roadie.web.security import basic_auth

__all__ = ["basic_auth", "create_app"]
