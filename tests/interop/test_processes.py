"""Sidekiq's Ruby API lists a running roadie worker and its busy job, and can quiet and stop it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import redis

import roadie
from roadie.api import Process, ProcessSet, WorkSet

# roadie beats every 5 s by default; one second keeps these tests short.
FAST_HEARTBEAT = {"ROADIE_HEARTBEAT_INTERVAL": "1"}
WORKER_FLAGS = ("-c", "3", "-q", "critical", "-q", "default", "-g", "interop-tag")


def start_busy_worker(interop) -> tuple[Any, str, Path]:
    """Start a roadie worker and give it a job that runs until the test creates the gate file."""
    worker = interop.start_roadie(*WORKER_FLAGS, env=FAST_HEARTBEAT)
    gate = interop.directory / "gate"
    client = roadie.Client(interop.redis_url)
    try:
        jid = client.push({"class": "WaitsForGate", "args": [str(gate)]})
    finally:
        client.close()
    return worker, jid, gate


def roadie_process(interop, worker) -> dict[str, Any] | None:
    """Return the worker's entry in Sidekiq::ProcessSet once it reports a busy job, else None."""
    for process in interop.ruby("api.rb", "processes"):
        if process["pid"] == worker.pid and process["busy"] == 1:
            return process
    return None


def test_process_set_lists_roadie(interop):
    worker, _, gate = start_busy_worker(interop)

    process = interop.wait_for(lambda: roadie_process(interop, worker), 20, "ProcessSet to show a busy job")
    gate.touch()

    hostname, pid, nonce = process["identity"].rsplit(":", 2)
    assert hostname == socket.gethostname()
    assert pid == str(worker.pid)
    assert len(nonce) == 12
    assert process["hostname"] == hostname
    assert process["queues"] == ["critical", "default"]
    assert process["concurrency"] == 3
    assert process["tag"] == "interop-tag"
    assert process["quiet"] == "false"
    assert process["stopping"] is False


def test_workers_lists_busy_job(interop):
    worker, jid, gate = start_busy_worker(interop)
    process = interop.wait_for(lambda: roadie_process(interop, worker), 20, "ProcessSet to show a busy job")

    works = interop.ruby("api.rb", "workers")
    gate.touch()

    assert len(works) == 1
    work = works[0]
    assert work["process"] == process["identity"]
    assert work["queue"] == "default"
    assert isinstance(work["run_at"], int)
    assert work["payload"]["jid"] == jid
    assert work["payload"]["class"] == "WaitsForGate"
    assert work["payload"]["args"] == [str(gate)]


def test_quiet_and_stop_from_ruby(interop, redis_client: redis.Redis):
    worker = interop.start_roadie(*WORKER_FLAGS, env=FAST_HEARTBEAT)
    identity = interop.wait_for(
        lambda: next((p["identity"] for p in interop.ruby("api.rb", "processes") if p["pid"] == worker.pid), None),
        20,
        "ProcessSet to list the roadie worker",
    )

    interop.ruby("api.rb", "quiet", identity)
    interop.wait_for(
        lambda: redis_client.hget(identity, "quiet") == b"true", 20, "the worker's record to show quiet=true"
    )
    stopping = [p["stopping"] for p in interop.ruby("api.rb", "processes") if p["identity"] == identity]
    still_running = worker.poll() is None
    interop.ruby("api.rb", "stop", identity)
    interop.wait_for(lambda: worker.poll() is not None, 20, "the worker to exit after stop!")

    assert stopping == [True]
    assert still_running
    assert worker.returncode == 0
    assert not redis_client.sismember("processes", identity)


# ------------------------------------------------- roadie's API reads Sidekiq


def sidekiq_process(client: roadie.Client, pid: int) -> Process | None:
    """Return the Sidekiq process with ``pid`` from roadie's ProcessSet once it reports a busy job."""
    for process in ProcessSet(client=client):
        if process.pid == pid and process.busy == 1:
            return process
    return None


def test_roadie_api_lists_sidekiq(interop):
    # Sidekiq 6.4 beats every 5 s, so this test waits up to two beats.
    gate = interop.directory / "gate"
    client = roadie.Client(interop.redis_url)
    try:
        jid = client.push({"class": "WaitsForGate", "args": [str(gate)]})
        sidekiq = interop.start_sidekiq("-g", "ruby-tag")
        process = interop.wait_for(lambda: sidekiq_process(client, sidekiq.pid), 20, "Sidekiq to report a busy job")
        works = [work for _, _, work in WorkSet(client=client)]
        gate.touch()
        process.stop()
        interop.wait_for(lambda: sidekiq.poll() is not None, 20, "Sidekiq to exit after a TERM sent through Redis")
    finally:
        client.close()

    assert process.queues == ["default"]
    assert process.concurrency == 2
    assert process.tag == "ruby-tag"
    assert process.identity.split(":")[-2] == str(sidekiq.pid)
    assert [work.payload.jid for work in works] == [jid]
    assert [work.queue for work in works] == ["default"]
    assert interop.recorded("WaitsForGate") == [[str(gate)]]
    assert sidekiq.returncode == 0
