"""Sidekiq::Stats reads the counters and set sizes a roadie worker wrote."""

from __future__ import annotations

import datetime as dt

import redis


def test_stats_match_roadie_run(interop, redis_client: redis.Redis):
    interop.ruby("client.rb", "push_bulk", stdin={"class": "RubyToPython", "args": [[1], [2], [3]]})
    interop.ruby("client.rb", "push", stdin={"job": {"class": "FailsInPython", "args": [], "retry": 3}})
    interop.ruby("client.rb", "push", stdin={"job": {"class": "DiesInPython", "args": [], "retry": 0}})
    for index in range(2):
        job = {"class": "RubyToPython", "args": [index], "queue": "elsewhere"}
        interop.ruby("client.rb", "push", stdin={"job": job})
    interop.ruby("client.rb", "perform_in", stdin={"seconds": 3600, "args": ["later"]})

    interop.run_roadie_burst("-q", "default")
    stats = interop.ruby("api.rb", "stats")
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()

    # Sidekiq counts every run as processed, failures included.
    assert stats["processed"] == 5
    assert stats["failed"] == 2
    assert stats["processed"] == int(redis_client.get("stat:processed"))
    assert stats["failed"] == int(redis_client.get("stat:failed"))
    assert stats["history_processed"] == {today: 5}
    assert stats["history_failed"] == {today: 2}
    assert stats["enqueued"] == 2
    assert stats["queues"] == {"elsewhere": 2, "default": 0}
    assert stats["retry_size"] == 1
    assert stats["dead_size"] == 1
    assert stats["scheduled_size"] == 1
    # The burst worker removed its own record when it exited.
    assert stats["processes_size"] == 0
