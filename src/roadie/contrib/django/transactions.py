"""Hold back jobs enqueued inside a database transaction until it commits.

A job pushed at once from inside ``transaction.atomic()`` can start before
the transaction commits. It then reads rows that do not exist yet, or that
a rollback removes. With ``defer_until_commit`` on (the default), the push
waits for ``transaction.on_commit`` and is dropped if the transaction rolls
back. ``perform_async`` still returns the jid the job will carry.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction

from roadie import payload

__all__ = ["defer_until_commit", "push_immediately"]

_immediate: contextvars.ContextVar[bool] = contextvars.ContextVar("roadie_django_push_immediately", default=False)


@contextmanager
def push_immediately() -> Iterator[None]:
    """Push jobs enqueued inside this block at once, even inside a transaction; also a decorator.

    For a job that must run whatever the transaction's outcome, such as an
    alert about the failure that rolls it back.
    """
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


def defer_until_commit(items: list[dict[str, Any]], push: Callable[[], list[str | None]]) -> list[str | None]:
    """Push ``items`` now, or when the default database's open transaction commits; return their jids.

    Installed as roadie's process-wide push hook by the Django app. A
    deferred push runs with the context variables of the enqueue call, so a
    roadie.testing mode active then applies at commit too.
    """
    # NOTE: only the default database's transaction is consulted; a job
    # enqueued inside atomic(using="other") alone is pushed at once.
    if _immediate.get() or not transaction.get_connection().in_atomic_block:
        return push()
    for item in items:
        # The jid is fixed now so the caller gets it back before the push.
        item.setdefault("jid", payload.new_jid())
    context = contextvars.copy_context()
    transaction.on_commit(lambda: context.run(push))
    return [item["jid"] for item in items]
