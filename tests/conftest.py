"""Fixtures shared by all tests, and the --run-slow option.

Every test that needs Redis gets a private server started by EmbeddedRedis on a
free port, so no test reads or writes the machine's own Redis on port 6379.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from roadie.storage.embedded import EmbeddedRedis


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: pass --run-slow to run it")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One private Redis server for the whole session.

    Tests that stop, restart or reconfigure a server should start their own
    EmbeddedRedis, because every other test shares this one.
    """
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """URL of the session server, emptied with FLUSHALL before the test."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """Client of the emptied session server that returns bytes, closed after the test."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()


# ------------------------------------------------------------ worker processes

# A jobs module the worker subprocesses import with -r. Each job appends one
# line to $JOBS_TEST_OUT, so tests can count executions without timing.
JOBS_SOURCE = textwrap.dedent(
    '''
    import json, os, time
    import roadie

    OUT = os.environ["JOBS_TEST_OUT"]

    def record(*parts):
        with open(OUT, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(parts) + "\\n")

    @roadie.job(name="Noop")
    def noop(index):
        record("noop", index)

    @roadie.job(name="Stamp")
    def stamp(label, enqueued_at):
        record("stamp", label, enqueued_at, time.time())

    @roadie.job(name="Boom")
    def boom(message):
        record("boom", message)
        raise ValueError(message)

    @roadie.job(name="BoomNoRetry", retry=0)
    def boom_no_retry(message):
        raise ValueError(message)

    @roadie.job(name="BoomDrop", retry=False)
    def boom_drop(message):
        raise ValueError(message)

    @roadie.job(name="Sleepy")
    def sleepy(seconds, label):
        record("sleepy-start", label)
        time.sleep(seconds)
        record("sleepy-done", label)

    @roadie.job(name="Queued")
    def queued(queue_name, index):
        record("queued", queue_name, index)

    @roadie.job(name="Chaos")
    def chaos(token):
        time.sleep(0.002)
        record("chaos", token, os.getpid())

    @roadie.job(name="AsyncNoop")
    async def async_noop(index):
        import asyncio
        await asyncio.sleep(0)
        record("async", index)
    '''
)


class WorkerRun:
    """A `roadie worker` subprocess and the file its jobs write to."""

    def __init__(self, process: subprocess.Popen[str], out: Path, log: Path) -> None:
        self.process = process
        self.out = out
        self.log = log

    def lines(self) -> list[list[object]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text(encoding="utf-8").splitlines() if line]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode} before {what}:\n{self.output()}")
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; worker log:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def signal(self, signum: int) -> None:
        os.kill(self.process.pid, signum)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@pytest.fixture
def jobs_dir(tmp_path: Path) -> Path:
    (tmp_path / "workerjobs.py").write_text(JOBS_SOURCE, encoding="utf-8")
    return tmp_path


@pytest.fixture
def start_worker(jobs_dir: Path, redis_url: str) -> Iterator[Callable[..., WorkerRun]]:
    """Start `roadie worker -r workerjobs` with extra arguments; every worker is stopped at teardown."""
    runs: list[WorkerRun] = []

    def start(*args: str, env: dict[str, str] | None = None, url: str | None = None) -> WorkerRun:
        out = jobs_dir / "out.jsonl"
        log = jobs_dir / f"worker-{len(runs)}.log"
        # The worker must not pick up settings from the developer's environment.
        environment = {
            name: value for name, value in os.environ.items()
            if not name.startswith("ROADIE_") or name == "ROADIE_REDIS_SERVER"
        }
        environment.update({"JOBS_TEST_OUT": str(out), "PYTHONPATH": str(jobs_dir), **(env or {})})
        environment["JOBS_TEST_OUT"] = str(out)
        command = [sys.executable, "-m", "roadie", "worker", "--redis-url", url or redis_url, "-r", "workerjobs",
                   *args]
        with open(log, "w", encoding="utf-8") as log_file:
            process = subprocess.Popen(command, cwd=jobs_dir, env=environment, stdout=log_file,
                                       stderr=subprocess.STDOUT, text=True)
        run = WorkerRun(process, out, log)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()


@pytest.fixture
def worker_jobs(jobs_dir: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Import the test jobs module in this process, to enqueue with its job functions."""
    monkeypatch.syspath_prepend(str(jobs_dir))
    monkeypatch.setenv("JOBS_TEST_OUT", str(jobs_dir / "out.jsonl"))
    from roadie import jobs


    # Each test writes the module to a new folder; forget the last test's definitions.
    sys.modules.pop("workerjobs", None)
    for name, job_function in list(jobs._registry.items()):
        if job_function.fn.__module__ == "workerjobs":
            del jobs._registry[name]
    return importlib.import_module("workerjobs")


@pytest.fixture
def run_burst(redis_url: str) -> Callable[..., None]:
    """Run a burst-mode worker in this process on the jobs registered here, until it is done."""
    from roadie.config import Settings
    from roadie.worker.launcher import Launcher

    def run(**settings: object) -> None:
        launcher = Launcher(Settings(redis_url=redis_url, heartbeat_interval=1.0, **settings), burst=True)
        launcher.start()
        try:
            assert launcher._stop_requested.wait(60), "burst worker did not finish"
        finally:
            launcher.stop(timeout=5)

    return run

