"""Jobs enqueued by roadie run in a real Ruby Sidekiq process with their arguments unchanged."""

from __future__ import annotations

from typing import Any

import roadie


@roadie.job(name="PythonToRuby")
def python_to_ruby(*args: Any) -> None:
    """Only enqueued here: the Ruby class PythonToRuby in ruby/worker.rb runs it."""
    raise AssertionError("PythonToRuby runs in Ruby, never in this test process")


def test_roadie_jobs_run_in_sidekiq(interop, sample_args, as_typed):
    client = roadie.Client(interop.redis_url)
    try:
        client.push({"class": "PythonToRuby", "args": ["pushed", sample_args]})
        python_to_ruby.set(client=client).perform_async("perform_async", *sample_args)
        # Sidekiq's poller, not roadie's, moves this one from the schedule set.
        python_to_ruby.set(client=client).perform_in(1, "perform_in", *sample_args)
    finally:
        client.close()

    sidekiq = interop.start_sidekiq()
    interop.wait_for(lambda: len(interop.recorded("PythonToRuby")) == 3, 30, "Sidekiq to run all three jobs")
    exit_code = interop.stop(sidekiq)

    expected = sorted(
        [["pushed", sample_args], ["perform_async", *sample_args], ["perform_in", *sample_args]],
        key=lambda args: args[0],
    )
    recorded = sorted(interop.recorded("PythonToRuby"), key=lambda args: args[0])
    assert [as_typed(args) for args in recorded] == [as_typed(args) for args in expected]
    assert exit_code == 0
