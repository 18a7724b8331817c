"""Tests for `manage.py roadie ...`, run as a subprocess on a small Django project."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis

from roadie.client import Client
from roadie.config import Settings

PROJECT_SETTINGS = textwrap.dedent(
    """
    import os

    SECRET_KEY = "roadie-tests-only"
    USE_TZ = True
    INSTALLED_APPS = ["django.contrib.contenttypes", "roadie.contrib.django", "shop"]
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["TEST_DB"]}}
    ROADIE = {"redis_url": os.environ["TEST_REDIS_URL"], "queues": ["orders"], "defer_until_commit": True}
    """
)

SHOP_JOBS = textwrap.dedent(
    """
    import redis
    from django.db import connection

    import roadie
    from roadie.client import default_settings


    @roadie.job(name="Shop.Record", queue="orders")
    def record(value):
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        redis.Redis.from_url(default_settings().resolved_redis_url).rpush("shop-ran", value)
    """
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "shop_settings.py").write_text(PROJECT_SETTINGS, encoding="utf-8")
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "shop" / "jobs.py").write_text(SHOP_JOBS, encoding="utf-8")
    return tmp_path


def manage(project: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("ROADIE_", "DJANGO_")) or name == "ROADIE_REDIS_SERVER"}
    environment.update({
        "DJANGO_SETTINGS_MODULE": "shop_settings",
        "PYTHONPATH": str(project),
        "TEST_REDIS_URL": redis_url,
        "TEST_DB": str(project / "db.sqlite3"),
    })
    return subprocess.run(
        [sys.executable, "-m", "django", "roadie", *args],
        cwd=project, env=environment, capture_output=True, text=True, timeout=60,
    )


def test_worker_finds_app_jobs(project: Path, redis_url: str, redis_client: redis.Redis) -> None:
    Client(redis_url, settings=Settings()).enqueue("Shop.Record", "first", queue="orders")

    result = manage(project, redis_url, "worker", "--burst")

    assert result.returncode == 0, result.stderr
    assert redis_client.lrange("shop-ran", 0, -1) == [b"first"]


def test_worker_flags_after_command(project: Path, redis_url: str, redis_client: redis.Redis) -> None:
    Client(redis_url, settings=Settings()).enqueue("Shop.Record", "first", queue="orders")

    result = manage(project, redis_url, "worker", "--burst", "-v", "-q", "elsewhere")

    assert result.returncode == 0, result.stderr
    assert redis_client.llen("queue:orders") == 1
    assert redis_client.llen("shop-ran") == 0


def test_worker_help_forwarded(project: Path, redis_url: str) -> None:
    result = manage(project, redis_url, "worker", "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: manage.py roadie worker" in result.stdout
    assert "--burst" in result.stdout


def test_unknown_option_fails(project: Path, redis_url: str) -> None:
    result = manage(project, redis_url, "worker", "--no-such-flag")

    assert result.returncode == 2
    assert "--no-such-flag" in result.stderr


def test_invalid_roadie_setting_reported(project: Path, redis_url: str) -> None:
    settings_file = project / "shop_settings.py"
    settings_file.write_text(settings_file.read_text().replace('"queues"', '"queuez"'), encoding="utf-8")

    result = manage(project, redis_url, "worker", "--burst")

    assert result.returncode != 0
    assert "queuez" in result.stderr
