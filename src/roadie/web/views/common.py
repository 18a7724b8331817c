"""Helpers shared by the route handlers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from roadie.client import Client
from roadie.web.security import verify_form_token

if TYPE_CHECKING:
    from roadie.web.app import Dashboard

__all__ = ["blocking", "client_of", "dashboard_of", "form_choice", "read_form"]

# The admin API is synchronous; run it on Starlette's thread pool.
blocking = run_in_threadpool


def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard  # type: ignore[no-any-return]


def client_of(request: Request) -> Client:
    return dashboard_of(request).client()


async def read_form(request: Request) -> FormData:
    """Read a POST's form and reject it with 403 unless it is same-origin or carries a valid CSRF token."""
    dashboard = dashboard_of(request)
    if dashboard.read_only:
        # The guard rejects this first; checked again so no route can act in read-only mode.
        raise HTTPException(403, "Forbidden: this dashboard is read-only")
    form = await request.form()
    verify_form_token(request, form, dashboard.secret)
    return form


def form_choice(form: FormData, name: str, choices: tuple[str, ...]) -> str:
    """Return form field ``name`` if it is one of ``choices``; else 400."""
    value = form.get(name)
    if not isinstance(value, str) or value not in choices:
        raise HTTPException(400, f"invalid {name}: expected one of {', '.join(choices)}")
    return value
