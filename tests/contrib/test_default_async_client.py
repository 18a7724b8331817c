"""Tests for the per-event-loop default AsyncClient that aperform_async uses without .set(client=...)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import orjson
import pytest
import redis

import roadie
from roadie.client import AsyncClient, _reset_defaults, close_default_async_client, default_async_client
from roadie.config import Settings


@roadie.job(name="asyncdefault.Record")
def record(value: int) -> None:
    pass


@pytest.fixture
def default_on_server(redis_url: str) -> Iterator[str]:
    roadie.configure(url=redis_url, settings=Settings())
    try:
        yield redis_url
    finally:
        _reset_defaults()


def test_aperform_without_client_pushes(default_on_server: str, redis_client: redis.Redis) -> None:
    async def enqueue() -> str | None:
        try:
            return await record.aperform_async(1)
        finally:
            await close_default_async_client()

    jid = asyncio.run(enqueue())

    [raw] = redis_client.lrange("queue:default", 0, -1)
    assert orjson.loads(raw)["jid"] == jid


def test_aperform_bulk_without_client(default_on_server: str, redis_client: redis.Redis) -> None:
    async def enqueue() -> list[str | None]:
        try:
            return await record.aperform_bulk([[1], [2]])
        finally:
            await close_default_async_client()

    jids = asyncio.run(enqueue())

    assert len(jids) == 2
    assert redis_client.llen("queue:default") == 2


def test_one_client_per_loop(default_on_server: str) -> None:
    async def both() -> tuple[AsyncClient, AsyncClient]:
        return default_async_client(), default_async_client()

    first, again = asyncio.run(both())
    other, _ = asyncio.run(both())

    assert first is again
    assert other is not first


def test_each_loop_can_push(default_on_server: str, redis_client: redis.Redis) -> None:
    async def enqueue(value: int) -> None:
        await record.aperform_async(value)
        await close_default_async_client()

    asyncio.run(enqueue(1))
    asyncio.run(enqueue(2))

    assert redis_client.llen("queue:default") == 2


def test_default_async_uses_configured_url(default_on_server: str) -> None:
    async def url() -> str:
        return default_async_client().url

    assert asyncio.run(url()) == default_on_server


def test_configure_replaces_async_default(default_on_server: str) -> None:
    async def clients() -> tuple[AsyncClient, AsyncClient]:
        before = default_async_client()
        roadie.configure(url="redis://127.0.0.1:1/0", settings=Settings())
        return before, default_async_client()

    before, after = asyncio.run(clients())

    assert after is not before
    assert after.url == "redis://127.0.0.1:1/0"


def test_close_forgets_loop_client(default_on_server: str) -> None:
    async def cycle() -> tuple[AsyncClient, AsyncClient]:
        first = default_async_client()
        await close_default_async_client()
        return first, default_async_client()

    first, second = asyncio.run(cycle())

    assert second is not first


def test_default_async_needs_running_loop() -> None:
    with pytest.raises(RuntimeError):
        default_async_client()
