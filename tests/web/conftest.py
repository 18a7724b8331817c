"""Fixtures for the dashboard tests: an HTTP client, data seeding, and Chromium for browser tests."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

import roadie
from roadie import payload
from roadie.web import create_app

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Payloads that must never run or break out of their element, wherever job data is shown.
XSS_CORPUS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "javascript:alert(1)",
    "</textarea><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    '" onmouseover="alert(1)" x="',
    "<a href=\"javascript:alert(1)\">click</a>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "{{7*7}}${7*7}<%= 7*7 %>",
    "\u202e<b>exe.gnp</b>",
    "\uff1cscript\uff1ealert(1)\uff1c/script\uff1e",
    "\u0000<script>alert(1)</script>",
]


@pytest.fixture
def xss_corpus() -> list[str]:
    return list(XSS_CORPUS)


class DashboardClient:
    """A TestClient for the dashboard that posts as a same-origin browser form would."""

    def __init__(self, http: TestClient) -> None:
        self.http = http

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.http.get(path, **kwargs)

    def act(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with ``Sec-Fetch-Site: same-origin``, not following the redirect."""
        headers = {**SAME_ORIGIN, **kwargs.pop("headers", {})}
        return self.http.post(path, data=data or {}, headers=headers, follow_redirects=False, **kwargs)


@pytest.fixture
def dashboard(redis_url: str) -> Iterator[DashboardClient]:
    """The dashboard on the emptied session Redis, read-write, without auth."""
    with TestClient(create_app(redis_url)) as http:
        yield DashboardClient(http)


@pytest.fixture
def roadie_client(redis_url: str) -> Iterator[roadie.Client]:
    client = roadie.Client(redis_url)
    try:
        yield client
    finally:
        client.close()


class Seeder:
    """Writes jobs, set entries and process records as roadie and Sidekiq write them."""

    def __init__(self, client: roadie.Client, connection: redis.Redis) -> None:
        self.client = client
        self.redis = connection

    def enqueue(self, job_class: str = "HardJob", args: list[Any] | None = None, queue: str = "default",
                **extra: Any) -> str:
        jid = self.client.push({"class": job_class, "args": args if args is not None else [1], "queue": queue,
                                **extra})
        assert jid is not None
        return jid

    @staticmethod
    def job(job_class: str = "HardJob", args: list[Any] | None = None, queue: str = "default",
            **extra: Any) -> dict[str, Any]:
        created = time.time() - 600
        return {"class": job_class, "args": args if args is not None else [1, "two"], "jid": payload.new_jid(),
                "queue": queue, "retry": True, "created_at": created, "enqueued_at": created, **extra}

    def failed_job(self, error_message: str = "something broke", retry_count: int = 2, **extra: Any) -> dict[str, Any]:
        failed = time.time() - 300
        fields = {
            "error_class": "RuntimeError",
            "error_message": error_message,
            "failed_at": failed - 120,
            "retried_at": failed,
            "retry_count": retry_count,
            "error_backtrace": payload.encode_backtrace(["app/jobs.py:12:in `perform'", "lib/run.py:3:in `call'"]),
        }
        return self.job(**{**fields, **extra})

    def add(self, set_name: str, job: dict[str, Any], score: float | None = None) -> tuple[float, str, bytes]:
        """ZADD ``job`` to ``retry``, ``schedule`` or ``dead``; return its score, jid and exact bytes."""
        raw = payload.dumps(job)
        score = time.time() + 3600 if score is None else score
        self.redis.zadd(set_name, {raw: score})
        return score, str(job.get("jid")), raw

    def retry(self, score: float | None = None, **fields: Any) -> tuple[float, str, bytes]:
        return self.add("retry", self.failed_job(**fields), score)

    def dead(self, score: float | None = None, **fields: Any) -> tuple[float, str, bytes]:
        return self.add("dead", self.failed_job(**fields), time.time() - 60 if score is None else score)

    def scheduled(self, score: float | None = None, **fields: Any) -> tuple[float, str, bytes]:
        job = self.job(**fields)
        job.pop("enqueued_at", None)
        return self.add("schedule", job, score)

    def process(self, identity: str | None = None, *, tag: str = "shop", labels: list[str] | None = None,
                weights: dict[str, int] | None = None, concurrency: int = 5, running: Sequence[dict[str, Any]] = (),
                quiet: bool = False, embedded: bool = False) -> str:
        """Write a live process record, and a busy map holding ``running`` jobs; return the identity."""
        identity = identity or f"worker-1:{4000 + len(self.redis.smembers('processes'))}:{secrets.token_hex(6)}"
        weights = weights or {"default": 2, "low": 1}
        info = {
            "hostname": identity.split(":")[0], "started_at": time.time() - 7200, "pid": 4242, "tag": tag,
            "concurrency": concurrency, "queues": list(weights), "weights": [weights],
            "labels": labels if labels is not None else ["reliable"], "identity": identity, "version": "0.1.0",
            "embedded": embedded,
        }
        self.redis.sadd("processes", identity)
        self.redis.hset(identity, mapping={
            "info": payload.dumps(info), "busy": len(running), "beat": time.time(),
            "quiet": "true" if quiet else "false", "rss": 185_000, "rtt_us": 120, "concurrency": concurrency,
        })
        self.redis.expire(identity, 60)
        for index, job in enumerate(running):
            work = {"queue": job["queue"], "payload": payload.dumps(job).decode(), "run_at": int(time.time()) - 5}
            self.redis.hset(f"{identity}:work", f"t{index:03x}", payload.dumps(work))
        return identity


@pytest.fixture
def seed(roadie_client: roadie.Client, redis_client: redis.Redis) -> Seeder:
    return Seeder(roadie_client, redis_client)


# ------------------------------------------------------------------ browser


def _install_chromium() -> None:
    """Install Debian's chromium with apt-get, once across parallel test runs."""
    lock_path = Path(tempfile.gettempdir()) / "roadie-chromium-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists():
            return
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        command = ["apt-get", "install", "-y", "chromium"]
        result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            # The package lists may be missing or stale; refresh them once.
            subprocess.run(["apt-get", "update"], env=environment, capture_output=True, text=True, timeout=600)
            result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
        if result.returncode != 0 or not CHROMIUM.exists():
            pytest.fail(f"apt-get install chromium failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                        f"{result.stderr[-3000:]}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path of Debian's chromium, installed with apt-get when missing; skips only without apt-get or root."""
    if not CHROMIUM.exists():
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            message = (f"BROWSER TESTS SKIPPED: {CHROMIUM} is missing and cannot be installed here "
                       "(needs root and apt-get); install Debian's chromium package to run them")
            warnings.warn(message, stacklevel=1)
            pytest.skip(message)
        _install_chromium()
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[Any]:
    # Module scope: Playwright's sync API keeps an event loop running in this
    # thread while it is open, and asyncio.run() in a later test would fail.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """uvicorn serving an ASGI app on 127.0.0.1 in a background thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_server(redis_url: str) -> Iterator[LiveServer]:
    """The dashboard for the emptied session Redis, served by uvicorn on a free loopback port."""
    server = LiveServer(create_app(redis_url)).start()
    try:
        yield server
    finally:
        server.stop()
