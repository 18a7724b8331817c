"""Fixtures for the tests that run roadie against real Ruby Sidekiq.

``sidekiq_tools`` finds Ruby Sidekiq (installing Debian's packages once when
missing, see sidekiq_env.py) or skips every interop test with the reason.
``interop`` starts Ruby scripts, Sidekiq processes and roadie workers against
the test's private Redis, and ends every process it started, by PID.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

HERE = Path(__file__).resolve().parent
RUBY_DIR = HERE / "ruby"
JOBS_FILE = HERE / "interop_jobs.py"

# Seconds a process gets to exit after TERM before the fixture kills it.
STOP_DEADLINE_SECONDS = 15.0

T = TypeVar("T")


def _load_sidekiq_env() -> Any:
    # Tests run with --import-mode=importlib, so this folder is not on sys.path.
    spec = importlib.util.spec_from_file_location("roadie_interop_sidekiq_env", HERE / "sidekiq_env.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up in sys.modules while the class is built.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sidekiq_env = _load_sidekiq_env()


@pytest.fixture(scope="session")
def sidekiq_tools() -> Any:
    """The Ruby and Sidekiq executables; skips the test when they cannot be installed."""
    try:
        return sidekiq_env.ensure_sidekiq()
    except sidekiq_env.SidekiqUnavailable as exc:
        message = f"SIDEKIQ INTEROP TESTS SKIPPED: {exc}"
        warnings.warn(message, stacklevel=1)
        print(f"\n{message}", file=sys.stderr, flush=True)
        pytest.skip(message)


def _child_environment(redis_url: str, output_dir: Path, extra: dict[str, str] | None) -> dict[str, str]:
    """Return the environment for a child process: only the test's Redis, whatever the caller's shell set."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ROADIE_") and name not in ("REDIS_URL", "REDIS_PROVIDER")
    }
    environment["REDIS_URL"] = redis_url
    environment["INTEROP_OUTPUT_DIR"] = str(output_dir)
    environment["PYTHONUNBUFFERED"] = "1"
    environment.update(extra or {})
    return environment


class Interop:
    """Runs Ruby and roadie processes against one test's Redis and reads what the jobs recorded."""

    def __init__(self, tools: Any, redis_url: str, directory: Path) -> None:
        self.tools = tools
        self.redis_url = redis_url
        self.directory = directory
        self.output_dir = directory / "recorded"
        self.output_dir.mkdir()
        self._processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    # ------------------------------------------------------------ Ruby side

    def ruby(self, script: str, *arguments: str, stdin: Any = None, timeout: float = 60.0) -> Any:
        """Run ``ruby/<script>`` with ``arguments`` and JSON ``stdin``; return its JSON output."""
        result = subprocess.run(
            [self.tools.ruby, str(RUBY_DIR / script), *arguments],
            input=json.dumps(stdin) if stdin is not None else "",
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=_child_environment(self.redis_url, self.output_dir, None),
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(
                f"ruby {script} {' '.join(arguments)} failed with exit code {result.returncode}:\n{result.stderr}"
            )
        return json.loads(result.stdout.strip().splitlines()[-1])

    def start_sidekiq(self, *flags: str) -> subprocess.Popen[bytes]:
        """Start a Sidekiq process that loads ruby/worker.rb and fetches from ``default``."""
        command = [self.tools.sidekiq, "-r", str(RUBY_DIR / "worker.rb"), "-c", "2", "-t", "3", *flags]
        return self._start("sidekiq", command, None)

    def start_ruby(self, script: str, *arguments: str) -> subprocess.Popen[bytes]:
        """Start ``ruby/<script>`` as a long-running process."""
        return self._start(Path(script).stem, [self.tools.ruby, str(RUBY_DIR / script), *arguments], None)

    # ---------------------------------------------------------- roadie side

    def roadie_command(self, *flags: str) -> list[str]:
        return [sys.executable, "-m", "roadie", "worker", "-r", str(JOBS_FILE), *flags]

    def run_roadie_burst(self, *flags: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a roadie worker with --burst until it exits; fail the test on a non-zero exit."""
        result = subprocess.run(
            self.roadie_command("--burst", *flags),
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=_child_environment(self.redis_url, self.output_dir, None),
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AssertionError(f"roadie worker --burst exited with {result.returncode}:\n{result.stderr}")
        return result

    def start_roadie(self, *flags: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start a roadie worker that runs until stopped."""
        return self._start("roadie", self.roadie_command(*flags), env)

    # ------------------------------------------------------------ processes

    def _start(self, name: str, command: list[str], env: dict[str, str] | None) -> subprocess.Popen[bytes]:
        log_path = self.directory / f"{name}-{len(self._processes)}.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_environment(self.redis_url, self.output_dir, env),
                cwd=self.directory,
            )
        self._processes.append((process, log_path))
        return process

    def log_of(self, process: subprocess.Popen[bytes]) -> str:
        for candidate, log_path in self._processes:
            if candidate is process:
                return log_path.read_text(encoding="utf-8", errors="replace")
        raise KeyError(f"process {process.pid} was not started by this fixture")

    def logs(self) -> str:
        """Return the last lines of every process log, for failure messages."""
        parts = []
        for process, log_path in self._processes:
            lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-30:]
            parts.append(f"--- {log_path.name} (pid {process.pid}) ---\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self, process: subprocess.Popen[bytes], deadline: float = STOP_DEADLINE_SECONDS) -> int:
        """Send TERM, wait up to ``deadline`` seconds, then KILL; return the exit code."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(deadline)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return process.returncode

    def stop_all(self) -> None:
        for process, _ in reversed(self._processes):
            self.stop(process)

    # ---------------------------------------------------------- observation

    def wait_for(self, condition: Callable[[], T], timeout: float, description: str) -> T:
        """Poll ``condition`` every 0.1 s until it returns a truthy value; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {description}\n{self.logs()}")
            time.sleep(0.1)

    def recorded(self, job_name: str) -> list[Any]:
        """Return the argument lists every run of ``job_name`` recorded, in a stable order."""
        folder = self.output_dir / job_name
        if not folder.is_dir():
            return []
        runs = [json.loads(path.read_text(encoding="utf-8")) for path in folder.glob("*.json")]
        return sorted(runs, key=lambda args: json.dumps(args, sort_keys=True))


@pytest.fixture
def interop(sidekiq_tools: Any, redis_url: str, tmp_path: Path) -> Iterator[Interop]:
    """An :class:`Interop` on the emptied test Redis; stops every process it started."""
    helper = Interop(sidekiq_tools, redis_url, tmp_path)
    try:
        yield helper
    finally:
        helper.stop_all()


# Arguments that must cross between Ruby and Python unchanged: Unicode in
# values and keys, nested hashes and arrays, 64-bit integers, floats in
# several exponent ranges, booleans, null, escapes and control characters.
SAMPLE_ARGS: list[Any] = [
    "ünïcödé ✓ 日本語 🎉",
    {
        "nested": {"deeper": {"list": [1, 2.5, None, True, False, "x"]}, "empty": {}},
        "ключ": "значение",
        "emoji 🚀": ["🚀"],
    },
    42,
    -7,
    9223372036854775807,
    -9223372036854775808,
    3.14159,
    0.1,
    1e-07,
    1.5e300,
    123456789.12345679,
    True,
    False,
    None,
    [],
    "",
    'line\nbreak\ttab "quote" \\ /slash \u0001',
]


def typed(value: Any) -> Any:
    """Return ``value`` with every scalar paired with its type, so 1 and 1.0 or True and 1 compare unequal."""
    if isinstance(value, list):
        return ["list", [typed(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", {key: typed(item) for key, item in value.items()}]
    return [type(value).__name__, repr(value)]


@pytest.fixture
def sample_args() -> list[Any]:
    """A fresh copy of :data:`SAMPLE_ARGS`."""
    return json.loads(json.dumps(SAMPLE_ARGS))


@pytest.fixture
def as_typed() -> Callable[[Any], Any]:
    """The :func:`typed` function, for exact comparisons in tests."""
    return typed
