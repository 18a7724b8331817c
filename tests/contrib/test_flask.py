"""Tests for roadie.contrib.flask: settings from app.config, the app context in jobs, the CLI, the dashboard."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask, current_app

import roadie
import roadie.testing
from roadie.client import Client, default_client
from roadie.config import QueueSpec, Settings
from roadie.contrib.flask import AppContextMiddleware, Roadie, mount_dashboard
from roadie.errors import ConfigError
from roadie.middleware import server_middleware

pytestmark = pytest.mark.usefixtures("clean_process_state")

seen: list[Any] = []


@roadie.job(name="FlaskTest.ReadConfig")
def read_config(key: str) -> None:
    seen.append(current_app.config[key])


@roadie.job(name="FlaskTest.AsyncReadConfig")
async def async_read_config(key: str) -> None:
    await asyncio.sleep(0)
    seen.append(current_app.config[key])


@pytest.fixture(autouse=True)
def empty_seen() -> None:
    seen.clear()


def make_app(redis_url: str, **roadie_config: Any) -> Flask:
    app = Flask("flask_test_app")
    app.config["ROADIE"] = {"redis_url": redis_url, **roadie_config}
    app.config["MARKER"] = "configured value"
    return app


# ------------------------------------------------------------------ settings


def test_config_becomes_default(redis_url: str, redis_client: redis.Redis) -> None:
    Roadie(make_app(redis_url, queues=["critical,2", "default"]))

    read_config.set(queue="critical").perform_async("MARKER")

    assert default_client().url == redis_url
    assert default_client().settings.queues == (QueueSpec("critical", 2), QueueSpec("default"))
    assert redis_client.llen("queue:critical") == 1


def test_init_app_factory_pattern(redis_url: str) -> None:
    extension = Roadie()
    app = make_app(redis_url, concurrency=3)

    extension.init_app(app)

    assert extension.settings is not None
    assert extension.settings.concurrency == 3
    assert app.extensions["roadie"].settings is extension.settings


def test_unknown_key_rejected(redis_url: str) -> None:
    with pytest.raises(ConfigError, match="concurency"):
        Roadie(make_app(redis_url, concurency=3))


def test_non_dict_config_rejected() -> None:
    app = Flask("flask_test_app")
    app.config["ROADIE"] = "redis://localhost"

    with pytest.raises(ConfigError, match="must be a dict"):
        Roadie(app)


def test_missing_config_uses_defaults() -> None:
    extension = Roadie(Flask("flask_test_app"))

    assert extension.settings is not None
    assert extension.settings.concurrency == Settings().concurrency


# --------------------------------------------------------------- app context


def test_worker_job_sees_app(redis_url: str, burst_worker: Callable[..., None]) -> None:
    Roadie(make_app(redis_url))
    read_config.perform_async("MARKER")

    burst_worker()

    assert seen == ["configured value"]


def test_async_job_sees_app(redis_url: str, burst_worker: Callable[..., None]) -> None:
    Roadie(make_app(redis_url))
    async_read_config.perform_async("MARKER")

    burst_worker()

    assert seen == ["configured value"]


def test_inline_job_sees_app(redis_url: str) -> None:
    Roadie(make_app(redis_url))

    with roadie.testing.inline():
        read_config.perform_async("MARKER")

    assert seen == ["configured value"]


def test_last_app_replaces_middleware(redis_url: str) -> None:
    Roadie(make_app(redis_url))
    second = make_app(redis_url)
    Roadie(second)

    entries = [entry for entry in server_middleware if isinstance(entry, AppContextMiddleware)]

    assert len(entries) == 1
    assert entries[0].app is second


def test_app_context_is_outermost(redis_url: str) -> None:
    def other(job_function: Any, job: dict[str, Any], queue: str, call_next: Any) -> Any:
        return call_next()

    server_middleware.add(other)
    Roadie(make_app(redis_url))

    assert isinstance(next(iter(server_middleware)), AppContextMiddleware)


# ----------------------------------------------------------------------- CLI

CLI_APP = textwrap.dedent(
    """
    import os

    import redis
    from flask import Flask, current_app

    import roadie
    from roadie.contrib.flask import Roadie

    app = Flask(__name__)
    app.config["ROADIE"] = {"redis_url": os.environ["TEST_REDIS_URL"], "queues": ["cli"]}
    app.config["GREETING"] = "hello from config"
    Roadie(app)


    @roadie.job(name="FlaskCli.Record", queue="cli")
    def record(value):
        connection = redis.Redis.from_url(current_app.config["ROADIE"]["redis_url"])
        connection.rpush("cli-ran", f"{current_app.config['GREETING']} {value}")
    """
)


def run_flask(app_dir: Path, redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("ROADIE_", "FLASK_")) or name == "ROADIE_REDIS_SERVER"}
    environment.update({"TEST_REDIS_URL": redis_url, "PYTHONPATH": str(app_dir)})
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "flask_cli_app", "roadie", *args],
        cwd=app_dir, env=environment, capture_output=True, text=True, timeout=60,
    )


@pytest.fixture
def cli_app(tmp_path: Path) -> Path:
    (tmp_path / "flask_cli_app.py").write_text(CLI_APP, encoding="utf-8")
    return tmp_path


def test_cli_worker_uses_app_settings(cli_app: Path, redis_url: str, redis_client: redis.Redis) -> None:
    Client(redis_url, settings=Settings()).enqueue("FlaskCli.Record", 1, queue="cli")

    result = run_flask(cli_app, redis_url, "worker", "--burst")

    assert result.returncode == 0, result.stderr
    assert redis_client.lrange("cli-ran", 0, -1) == [b"hello from config 1"]


def test_cli_flags_override_config(cli_app: Path, redis_url: str, redis_client: redis.Redis) -> None:
    Client(redis_url, settings=Settings()).enqueue("FlaskCli.Record", 1, queue="cli")

    result = run_flask(cli_app, redis_url, "worker", "--burst", "-q", "elsewhere")

    assert result.returncode == 0, result.stderr
    assert redis_client.llen("queue:cli") == 1
    assert redis_client.llen("cli-ran") == 0


def test_cli_help_lists_commands(cli_app: Path, redis_url: str) -> None:
    result = run_flask(cli_app, redis_url, "--help")

    assert result.returncode == 0, result.stderr
    assert "Usage: flask roadie" in result.stdout
    assert "worker" in result.stdout


def test_cli_invalid_flag_fails(cli_app: Path, redis_url: str) -> None:
    result = run_flask(cli_app, redis_url, "worker", "--no-such-flag")

    assert result.returncode == 2
    assert "--no-such-flag" in result.stderr


# ----------------------------------------------------------------- dashboard


def dashboard_app(redis_url: str, **options: Any) -> Flask:
    app = make_app(redis_url)
    Roadie(app)

    @app.get("/")
    def home() -> str:
        return "flask home"

    mount_dashboard(app, "/roadie", **options)
    return app


def test_dashboard_served_under_path(redis_url: str) -> None:
    client = dashboard_app(redis_url).test_client()

    page = client.get("/roadie/queues")

    assert page.status_code == 200
    assert "/roadie/queues" in page.get_data(as_text=True)


def test_dashboard_keeps_flask_routes(redis_url: str) -> None:
    client = dashboard_app(redis_url).test_client()

    assert client.get("/").get_data(as_text=True) == "flask home"


def test_dashboard_read_only_rejects_post(redis_url: str) -> None:
    client = dashboard_app(redis_url, read_only=True).test_client()

    response = client.post("/roadie/queues/default", data={"action": "delete"})

    assert response.status_code == 403
    assert "read-only" in response.get_data(as_text=True)


def test_dashboard_auth_applies(redis_url: str) -> None:
    client = dashboard_app(redis_url, auth=lambda request: False).test_client()

    response = client.get("/roadie/queues")

    assert response.status_code == 403
    assert "auth check rejected" in response.get_data(as_text=True)


def test_dashboard_path_validated(redis_url: str) -> None:
    app = make_app(redis_url)

    with pytest.raises(ConfigError, match="dashboard path"):
        mount_dashboard(app, "roadie")
