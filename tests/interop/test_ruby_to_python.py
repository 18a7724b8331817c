"""Jobs enqueued by Ruby Sidekiq's client run in a roadie worker with their arguments unchanged."""

from __future__ import annotations

import time

import redis


def test_client_push_runs_in_roadie(interop, sample_args, as_typed):
    jids = interop.ruby("client.rb", "push", stdin={"job": {"class": "RubyToPython", "args": sample_args}})

    interop.run_roadie_burst()

    assert len(jids) == 1
    assert [as_typed(args) for args in interop.recorded("RubyToPython")] == [as_typed(sample_args)]


def test_perform_async_runs_in_roadie(interop, sample_args, as_typed):
    interop.ruby("client.rb", "perform_async", stdin={"args": sample_args})

    interop.run_roadie_burst()

    assert [as_typed(args) for args in interop.recorded("RubyToPython")] == [as_typed(sample_args)]


def test_push_bulk_runs_in_roadie(interop, sample_args, as_typed):
    bulk = [[index, sample_args] for index in range(5)]

    jids = interop.ruby("client.rb", "push_bulk", stdin={"class": "RubyToPython", "args": bulk})
    interop.run_roadie_burst()

    assert len(set(jids)) == 5
    assert [as_typed(args) for args in interop.recorded("RubyToPython")] == [as_typed(args) for args in bulk]


def test_perform_in_runs_when_due(interop, redis_client: redis.Redis, sample_args, as_typed):
    pushed_at = time.time()
    interop.ruby("client.rb", "perform_in", stdin={"seconds": 1, "args": sample_args})
    scheduled = redis_client.zrange("schedule", 0, -1, withscores=True)

    worker = interop.start_roadie()
    interop.wait_for(lambda: interop.recorded("RubyToPython"), 20, "the scheduled job to run in roadie")
    exit_code = interop.stop(worker)

    assert len(scheduled) == 1
    assert scheduled[0][1] >= pushed_at + 1
    assert [as_typed(args) for args in interop.recorded("RubyToPython")] == [as_typed(sample_args)]
    assert redis_client.zcard("schedule") == 0
    assert exit_code == 0
