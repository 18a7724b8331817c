"""A key namespace, as Sidekiq 6 writes it with redis-namespace, shared with roadie both ways."""

from __future__ import annotations

from typing import Any

import pytest

import roadie

NAMESPACE = "myapp"


@roadie.job(name="PythonToRuby")
def python_to_ruby(*args: Any) -> None:
    """Only enqueued here: the Ruby class PythonToRuby in ruby/worker.rb runs it."""
    raise AssertionError("PythonToRuby runs in Ruby, never in this test process")


@pytest.fixture
def namespaced(monkeypatch: pytest.MonkeyPatch) -> str:
    # The Ruby scripts read this and prefix every key, as redis-namespace does.
    monkeypatch.setenv("SIDEKIQ_NAMESPACE", NAMESPACE)
    return NAMESPACE


def test_ruby_namespace_runs_in_roadie(interop, namespaced, redis_client, sample_args, as_typed) -> None:
    interop.ruby("client.rb", "push", stdin={"job": {"class": "RubyToPython", "args": sample_args}})

    assert redis_client.llen(f"{namespaced}:queue:default") == 1
    assert redis_client.exists("queue:default") == 0
    assert redis_client.sismember(f"{namespaced}:queues", "default")

    interop.run_roadie_burst("--namespace", namespaced)

    assert [as_typed(args) for args in interop.recorded("RubyToPython")] == [as_typed(sample_args)]
    assert int(redis_client.get(f"{namespaced}:stat:processed")) == 1


def test_roadie_namespace_runs_in_sidekiq(interop, namespaced, redis_client, sample_args, as_typed) -> None:
    with roadie.Client(interop.redis_url, namespace=namespaced) as client:
        python_to_ruby.set(client=client).perform_async("namespaced", *sample_args)
    assert redis_client.exists("queue:default") == 0

    sidekiq = interop.start_sidekiq()
    interop.wait_for(lambda: len(interop.recorded("PythonToRuby")) == 1, 30, "Sidekiq to run the job")
    exit_code = interop.stop(sidekiq)

    assert [as_typed(args) for args in interop.recorded("PythonToRuby")] == [as_typed(["namespaced", *sample_args])]
    assert exit_code == 0
