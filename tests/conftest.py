"""Fixtures shared by all tests, and the --run-slow option.

Every test that needs Redis gets a private server started by EmbeddedRedis on a
free port, so no test reads or writes the machine's own Redis on port 6379.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from roadie.storage.embedded import EmbeddedRedis


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run tests marked slow",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason="slow test: pass --run-slow to run it")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip_slow)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """One private Redis server for the whole session.

    Tests that stop, restart or reconfigure a server should start their own
    EmbeddedRedis, because every other test shares this one.
    """
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    """URL of the session server, emptied with FLUSHALL before the test."""
    client = redis.Redis.from_url(redis_server.url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """Client of the emptied session server that returns bytes, closed after the test."""
    client = redis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        client.close()
