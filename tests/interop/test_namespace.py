"""A key namespace, as Sidekiq 6 writes it with redis-namespace, shared with roadie both ways."""

from __future__ import annotations

import pytest

import roadie

NAMESPACE = "myapp"


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
        client.push({"class": "PythonToRuby", "args": ["namespaced", *sample_args]})
    assert redis_client.exists("queue:default") == 0

    sidekiq = interop.start_sidekiq()
    interop.wait_for(lambda: len(interop.recorded("PythonToRuby")) == 1, 30, "Sidekiq to run the job")
    exit_code = interop.stop(sidekiq)

    assert [as_typed(args) for args in interop.recorded("PythonToRuby")] == [as_typed(["namespaced", *sample_args])]
    assert exit_code == 0
