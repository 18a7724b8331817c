"""Server middleware that treats each job like a request for Django's database connections."""

from __future__ import annotations

from typing import Any

from django import db

__all__ = ["close_old_connections"]


def close_old_connections(job_function: Any, job: dict[str, Any], queue: str, call_next: Any) -> Any:
    """Close unusable or expired database connections before and after each sync job.

    Django does the same around each request, so ``CONN_MAX_AGE`` and broken
    connections are handled in workers as they are in web processes.
    """
    if job_function is not None and job_function.is_async:
        # NOTE: async jobs reach the ORM through sync_to_async threads, whose
        # connections this cannot see; they are left as they are.
        return call_next()
    _close_old()
    try:
        return call_next()
    finally:
        _close_old()


def _close_old() -> None:
    # A job run inline or drained inside a test's transaction (Django's
    # TestCase) shares the test's connection; closing it would break the test.
    if any(connection.in_atomic_block for connection in db.connections.all(initialized_only=True)):
        return
    db.close_old_connections()
