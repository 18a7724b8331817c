"""Report job failures and worker errors to Sentry, through roadie's error handlers.

::

    import sentry_sdk
    from roadie.contrib import sentry

    sentry_sdk.init(dsn="...")
    sentry.install()

Each event carries the job's name, jid, queue and retry count as tags and
the job hash (arguments included) as context, so set ``send_default_pii``
and Sentry's scrubbing to suit what your job arguments contain. Requires the
``sentry`` extra (``pip install 'roadie[sentry]'``).
"""

from __future__ import annotations

from typing import Any

from roadie import middleware

__all__ = ["capture", "install", "uninstall"]


def capture(exc: BaseException, context: dict[str, Any]) -> None:
    """Send ``exc`` to Sentry with the job (or the internal context) attached; an error handler."""
    import sentry_sdk

    with sentry_sdk.new_scope() as scope:
        job = context.get("job")
        if isinstance(job, dict):
            scope.set_tag("roadie.job", str(job.get("wrapped") or job.get("class")))
            scope.set_tag("roadie.jid", str(job.get("jid")))
            scope.set_tag("roadie.queue", str(context.get("queue") or job.get("queue")))
            if "retry_count" in job:
                scope.set_tag("roadie.retry_count", str(job["retry_count"]))
            scope.set_context("roadie job", {key: value for key, value in job.items() if key != "error_backtrace"})
        elif "context" in context:
            scope.set_tag("roadie.context", str(context["context"]))
        sentry_sdk.capture_exception(exc)


def install() -> None:
    """Add :func:`capture` to roadie's error handlers (once)."""
    if capture not in middleware.error_handlers:
        middleware.error_handlers.append(capture)


def uninstall() -> None:
    """Remove :func:`capture` from roadie's error handlers."""
    if capture in middleware.error_handlers:
        middleware.error_handlers.remove(capture)
