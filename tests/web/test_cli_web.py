"""`roadie web`: loopback-only without auth, basic auth from the environment, a real uvicorn server."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from click.testing import CliRunner

from roadie.cli.main import cli
from roadie.cli.web import is_loopback
from roadie.config import Settings

NO_CREDENTIALS = {"ROADIE_WEB_USERNAME": None, "ROADIE_WEB_PASSWORD": None}


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", True), ("127.8.9.10", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("0.0.0.0", False), ("::", False), ("192.168.1.20", False), ("example.com", False), ("", False),
])
def test_is_loopback_table(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_public_host_needs_auth() -> None:
    result = CliRunner().invoke(cli, ["web", "--host", "0.0.0.0"], env=NO_CREDENTIALS)
    assert result.exit_code == 2
    assert "not a loopback address, without authentication" in result.output


def test_half_credentials_rejected() -> None:
    env = {"ROADIE_WEB_USERNAME": "admin", "ROADIE_WEB_PASSWORD": None}
    result = CliRunner().invoke(cli, ["web"], env=env)
    assert result.exit_code == 2
    assert "ROADIE_WEB_PASSWORD is not set" in result.output


def test_bad_root_path_rejected() -> None:
    result = CliRunner().invoke(cli, ["web", "--root-path", "nope", "--redis-url", "redis://127.0.0.1:1/0"],
                                env=NO_CREDENTIALS)
    assert result.exit_code == 2
    assert "root_path must be empty or start with '/'" in result.output


def test_settings_accept_web_variables() -> None:
    settings = Settings.load(env={"ROADIE_WEB_USERNAME": "admin", "ROADIE_WEB_PASSWORD": "pw"}, search=False)
    assert settings.redis_url is None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start(args: list[str], env: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("ROADIE_")}
    environment.update(env)
    process = subprocess.Popen([sys.executable, "-m", "roadie", "web", "--port", str(port), *args],
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                raise AssertionError(f"roadie web exited with {process.returncode}:\n{process.stdout.read()}")
            try:
                httpx.get(url + "/static/favicon.svg", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise AssertionError("roadie web did not start listening within 20 s") from None
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture
def served_with_auth(redis_url: str) -> Iterator[str]:
    yield from _start(["--redis-url", redis_url, "--read-only"],
                      {"ROADIE_WEB_USERNAME": "ops", "ROADIE_WEB_PASSWORD": "correct horse"})


def test_server_requires_basic_auth(served_with_auth: str) -> None:
    token = base64.b64encode(b"ops:correct horse").decode()
    anonymous = httpx.get(served_with_auth + "/")
    authorized = httpx.get(served_with_auth + "/", headers={"Authorization": f"Basic {token}"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    assert authorized.status_code == 200
    assert "read-only" in authorized.text


def test_server_read_only_rejects_post(served_with_auth: str) -> None:
    token = base64.b64encode(b"ops:correct horse").decode()
    response = httpx.post(served_with_auth + "/retries/all/delete",
                          headers={"Authorization": f"Basic {token}", "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 403
