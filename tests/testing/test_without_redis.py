"""Tests that the fake and inline modes never talk to Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis

import roadie
import roadie.testing
from roadie.errors import RedisUnavailableError

runs: list[Any] = []


@roadie.job(name="noredis.Record")
def record(value: Any) -> None:
    runs.append(value)


def enqueue_every_way() -> None:
    record.perform_async(1)
    record.perform_in(60, 2)
    record.perform_at(4_102_444_800, 3)
    record.perform_bulk([[4], [5]])
    record.set(queue="other").perform_async(6)

    async def enqueue_async() -> None:
        await record.aperform_async(7)
        await record.aperform_in(60, 8)
        await record.aperform_bulk([[9]])

    asyncio.run(enqueue_async())


@pytest.fixture(autouse=True)
def empty_runs() -> None:
    runs.clear()


def test_closed_port_really_fails(default_on_closed_port: str) -> None:
    with pytest.raises(RedisUnavailableError):
        record.perform_async(1)


def test_fake_with_closed_port(default_on_closed_port: str) -> None:
    with roadie.testing.fake():
        enqueue_every_way()

        assert [job["args"] for job in roadie.testing.jobs()] == [[value] for value in range(1, 10)]


def test_inline_with_closed_port(default_on_closed_port: str) -> None:
    with roadie.testing.inline():
        enqueue_every_way()

    assert runs == list(range(1, 10))


def write_command_calls(connection: redis.Redis) -> dict[str, int]:
    stats = connection.info("commandstats")
    return {
        name: int(values["calls"]) for name, values in stats.items()
        if not name.startswith(("cmdstat_info", "cmdstat_config", "cmdstat_client", "cmdstat_hello"))
    }


@pytest.mark.parametrize("mode", [roadie.testing.fake, roadie.testing.inline], ids=["fake", "inline"])
def test_modes_send_no_commands(
    mode: Callable[[], Any], default_on_server: str, redis_client: redis.Redis
) -> None:
    redis_client.config_resetstat()

    with mode():
        enqueue_every_way()

    assert write_command_calls(redis_client) == {}


def test_command_count_can_fail(default_on_server: str, redis_client: redis.Redis) -> None:
    redis_client.config_resetstat()

    record.perform_async(1)

    assert write_command_calls(redis_client).get("cmdstat_lpush", 0) == 1
