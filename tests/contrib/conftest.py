"""Fixtures for the framework integration tests: an in-process burst worker and clean process state."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from roadie.client import _reset_defaults
from roadie.config import Settings
from roadie.middleware import server_middleware
from roadie.worker.launcher import Launcher


@pytest.fixture
def burst_worker(redis_url: str) -> Callable[..., None]:
    """A function that runs a burst-mode worker in this process until its queues are empty."""

    def run(settings: Settings | None = None, timeout: float = 30.0) -> None:
        launcher = Launcher(settings or Settings(redis_url=redis_url), burst=True)
        launcher.start()
        try:
            finished = launcher._stop_requested.wait(timeout)
        finally:
            launcher.stop()
        assert finished, f"burst worker did not empty its queues within {timeout} s"

    return run


@pytest.fixture
def clean_process_state() -> Iterator[None]:
    """Forget the default settings and client, and restore the server middleware, after the test."""
    saved = list(server_middleware)
    try:
        yield
    finally:
        _reset_defaults()
        server_middleware.clear()
        for entry in saved:
            server_middleware.add(entry)


# -------------------------------------------------------------------- Django

DJANGO_URLCONF = "roadie_django_test_urls"


@pytest.fixture(scope="session")
def django_project(tmp_path_factory: pytest.TempPathFactory, redis_server: Any) -> Any:
    """Configure Django once for the session: SQLite in a temporary folder, roadie's app, the tasks backend.

    ``settings.ROADIE`` points at the session's Redis server. Returns
    ``django.conf.settings``.
    """
    import django
    from django.conf import settings
    from django.core.management import call_command
    from django.http import HttpResponse
    from django.urls import include, path

    if settings.configured:
        pytest.skip("Django was configured by another test module; these tests need their own settings")
    urls = types.ModuleType(DJANGO_URLCONF)
    urls.urlpatterns = [  # type: ignore[attr-defined]
        path("roadie/", include("roadie.contrib.django.urls")),
        path("accounts/login/", lambda request: HttpResponse("login page")),
    ]
    sys.modules[DJANGO_URLCONF] = urls
    settings.configure(
        SECRET_KEY="roadie-tests-only",
        USE_TZ=True,
        ALLOWED_HOSTS=["testserver"],
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "django.contrib.sessions",
            # Django 6 ships the tasks framework; older versions need the backport's app.
            *([] if django.VERSION >= (6,) else ["django_tasks"]),
            "roadie.contrib.django",
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
        ],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(tmp_path_factory.mktemp("django") / "db.sqlite3"),
        }},
        ROOT_URLCONF=DJANGO_URLCONF,
        ROADIE={"redis_url": redis_server.url},
        TASKS={"default": {"BACKEND": "roadie.contrib.django.tasks.RoadieBackend", "QUEUES": []}},
    )
    django.setup()
    call_command("migrate", verbosity=0)
    return settings


@pytest.fixture
def django_app(django_project: Any, redis_url: str, clean_process_state: None) -> Iterator[Any]:
    """Apply settings.ROADIE for the test (on the emptied session Redis), and undo its hooks afterwards."""
    from roadie import jobs as jobs_module
    from roadie.contrib.django import conf

    conf.install()
    try:
        yield django_project
    finally:
        jobs_module._push_wrapper = None
