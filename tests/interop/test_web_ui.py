"""Sidekiq's Web UI, served by Ruby, renders every page from the data roadie wrote."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import redis

import roadie
from roadie import payload

FAST_HEARTBEAT = {"ROADIE_HEARTBEAT_INTERVAL": "1"}
PAGES = ["/", "/busy", "/queues", "/queues/elsewhere", "/retries", "/scheduled", "/morgue"]

# Loopback only: ignore any proxy the environment configures.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def fetch(base_url: str, path: str) -> tuple[int, str]:
    """GET ``path``; return the HTTP status and the body, for error statuses too."""
    try:
        with _opener.open(base_url + path, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def busy_identity(redis_client: redis.Redis) -> str | None:
    """Return the identity of a process whose record reports one busy job, or None."""
    for identity in redis_client.smembers("processes"):
        if redis_client.hget(identity, "busy") == b"1":
            return identity.decode()
    return None


@pytest.fixture
def roadie_data(interop, redis_client: redis.Redis) -> Iterator[dict[str, Any]]:
    """Fill Redis through roadie: a retry, a dead job, a scheduled job, a queue, and a busy worker."""
    client = roadie.Client(interop.redis_url)
    try:
        client.push({"class": "FailsInPython", "args": ["to retry"], "retry": 3, "backtrace": True})
        client.push({"class": "DiesInPython", "args": ["to the morgue"], "retry": 0})
        interop.run_roadie_burst("-q", "default")
        client.push({"class": "RubyToPython", "args": ["scheduled"], "at": time.time() + 3600})
        client.push({"class": "RubyToPython", "args": ["waiting"], "queue": "elsewhere"})

        worker = interop.start_roadie("-q", "default", "-g", "web-ui-tag", env=FAST_HEARTBEAT)
        gate = interop.directory / "gate"
        client.push({"class": "WaitsForGate", "args": [str(gate)]})
    finally:
        client.close()
    identity = interop.wait_for(
        lambda: busy_identity(redis_client), 20, "the roadie worker to report its busy job"
    )
    yield {"worker": worker, "identity": identity}
    gate.touch()


@pytest.fixture
def web_ui(interop) -> str:
    """Start Sidekiq::Web on a free loopback port; return its base URL."""
    server = interop.start_ruby("web.rb")
    port = interop.wait_for(
        lambda: re.search(r"^port (\d+)$", interop.log_of(server), re.MULTILINE), 30, "the Web UI to listen"
    ).group(1)
    return f"http://127.0.0.1:{port}"


def test_pages_return_ok(roadie_data, web_ui):
    statuses = {path: fetch(web_ui, path)[0] for path in PAGES}

    assert statuses == {path: 200 for path in PAGES}


def test_pages_show_roadie_jobs(roadie_data, web_ui):
    pages = {path: fetch(web_ui, path)[1] for path in PAGES}

    assert roadie_data["identity"] in pages["/busy"]
    assert "web-ui-tag" in pages["/busy"]
    assert "WaitsForGate" in pages["/busy"]
    assert "elsewhere" in pages["/queues"]
    assert "waiting" in pages["/queues/elsewhere"]
    assert "FailsInPython" in pages["/retries"]
    assert "failed in Python with 1 arguments" in pages["/retries"]
    assert "scheduled" in pages["/scheduled"]
    assert "DiesInPython" in pages["/morgue"]


def test_stats_endpoint_counts_roadie_data(roadie_data, web_ui):
    status, body = fetch(web_ui, "/stats")
    stats = json.loads(body)["sidekiq"]

    assert status == 200
    # The burst worker ran two jobs and both failed; the running worker has
    # finished nothing yet and reports one busy job.
    assert stats["processed"] == 2
    assert stats["failed"] == 2
    assert stats["busy"] == 1
    assert stats["processes"] == 1
    assert stats["enqueued"] == 1
    assert stats["scheduled"] == 1
    assert stats["retries"] == 1
    assert stats["dead"] == 1


def test_retry_page_shows_backtrace(roadie_data, web_ui, redis_client: redis.Redis):
    [(raw, score)] = redis_client.zrange("retry", 0, -1, withscores=True)
    jid = payload.decode(raw)["jid"]

    status, page = fetch(web_ui, f"/retries/{score!r}-{jid}")

    assert status == 200
    assert jid in page
    assert "interop_jobs.py" in page
