"""Tests for roadie.contrib.fastapi: the lifespan's client, the embedded worker and the dashboard mount."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import redis
from fastapi import Depends, FastAPI

import roadie
from roadie.client import AsyncClient, default_async_client
from roadie.config import Settings
from roadie.contrib import fastapi as roadie_fastapi
from roadie.contrib.fastapi import Roadie, get_client
from roadie.errors import ConfigError

pytestmark = pytest.mark.usefixtures("clean_process_state")


@roadie.job(name="FastApiTest.Record")
def record(value: str) -> None:
    connection = redis.Redis.from_url(roadie.client.default_settings().resolved_redis_url)
    try:
        connection.rpush("fastapi-ran", value)
    finally:
        connection.close()


def make_app(roadie_app: Roadie) -> FastAPI:
    app = FastAPI(lifespan=roadie_app.lifespan)

    @app.post("/records/{value}")
    async def create(value: str, client: AsyncClient = Depends(get_client)) -> dict[str, Any]:
        jid = await record.aperform_async(value)
        return {"jid": jid, "same_client": client is default_async_client()}

    return app


def serve(app: FastAPI, scenario: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    """Run ``scenario`` with an HTTP client on ``app``, between the app's startup and shutdown."""

    async def main() -> Any:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                return await scenario(http)

    return asyncio.run(main())


def test_endpoint_enqueues_without_set(redis_url: str, redis_client: redis.Redis) -> None:
    app = make_app(Roadie(Settings(redis_url=redis_url)))

    async def scenario(http: httpx.AsyncClient) -> dict[str, Any]:
        response = await http.post("/records/first")
        return response.json()

    body = serve(app, scenario)

    [raw] = redis_client.lrange("queue:default", 0, -1)
    assert json.loads(raw)["jid"] == body["jid"]
    assert body["same_client"] is True


def test_lifespan_closes_client(redis_url: str) -> None:
    roadie_app = Roadie(Settings(redis_url=redis_url))
    app = FastAPI()
    seen: dict[str, Any] = {}

    async def main() -> None:
        async with roadie_app.lifespan(app) as state:
            client = state["roadie_client"]
            await client.enqueue("Anything", 1)
            seen["open"] = client._connection is not None
        seen["closed"] = client._connection is None
        seen["replaced"] = default_async_client() is not client

    asyncio.run(main())

    assert seen == {"open": True, "closed": True, "replaced": True}


def test_lifespan_state_has_client(redis_url: str) -> None:
    app = FastAPI(lifespan=Roadie(Settings(redis_url=redis_url)).lifespan)

    async def main() -> bool:
        async with app.router.lifespan_context(app) as state:
            return isinstance(state["roadie_client"], AsyncClient)

    assert asyncio.run(main()) is True


def test_module_lifespan_uses_defaults(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    app = FastAPI(lifespan=roadie_fastapi.lifespan)

    async def main() -> str:
        async with app.router.lifespan_context(app) as state:
            return state["roadie_client"].url

    assert asyncio.run(main()) == redis_url


# ------------------------------------------------------------ embedded worker


def worker_settings(redis_url: str) -> Settings:
    return Settings(redis_url=redis_url, heartbeat_interval=0.5, recovery_timeout=5.0)


def test_embedded_worker_runs_jobs(redis_url: str, redis_client: redis.Redis) -> None:
    roadie_app = Roadie(worker_settings(redis_url), run_worker=True, worker_concurrency=1)
    app = make_app(roadie_app)

    async def scenario(http: httpx.AsyncClient) -> list[bytes]:
        await http.post("/records/from-request")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            values = redis_client.lrange("fastapi-ran", 0, -1)
            if values:
                return values
            await asyncio.sleep(0.02)
        raise AssertionError("the embedded worker did not run the job within 20 s")

    assert serve(app, scenario) == [b"from-request"]


def test_embedded_worker_registers_process(redis_url: str, redis_client: redis.Redis) -> None:
    roadie_app = Roadie(worker_settings(redis_url), run_worker=True, worker_concurrency=1)
    app = make_app(roadie_app)

    async def scenario(http: httpx.AsyncClient) -> dict[str, Any]:
        [identity] = redis_client.smembers("processes")
        return json.loads(redis_client.hget(identity, "info"))

    info = serve(app, scenario)

    assert info["embedded"] is True


def test_shutdown_removes_process(redis_url: str, redis_client: redis.Redis) -> None:
    roadie_app = Roadie(worker_settings(redis_url), run_worker=True)
    app = make_app(roadie_app)

    async def scenario(http: httpx.AsyncClient) -> int:
        return redis_client.scard("processes")

    running = serve(app, scenario)

    assert running == 1
    assert redis_client.scard("processes") == 0
    assert roadie_app.worker is None


def test_shutdown_pushes_back_running_job(redis_url: str, redis_client: redis.Redis) -> None:
    started = redis.Redis.from_url(redis_url)

    @roadie.job(name="FastApiTest.Slow")
    def slow() -> None:
        started.rpush("slow-started", "1")
        time.sleep(3)

    roadie_app = Roadie(worker_settings(redis_url), run_worker=True, shutdown_timeout=0.1)
    app = make_app(roadie_app)

    async def scenario(http: httpx.AsyncClient) -> None:
        await slow.aperform_async()
        deadline = time.monotonic() + 20
        while not redis_client.llen("slow-started"):
            assert time.monotonic() < deadline, "the slow job never started"
            await asyncio.sleep(0.02)

    serve(app, scenario)
    started.close()

    assert redis_client.llen("queue:default") == 1


def test_remote_term_stops_worker(redis_url: str, redis_client: redis.Redis) -> None:
    roadie_app = Roadie(worker_settings(redis_url), run_worker=True)
    app = make_app(roadie_app)

    async def scenario(http: httpx.AsyncClient) -> bool:
        [identity] = redis_client.smembers("processes")
        redis_client.lpush(identity + b"-signals", "TERM")
        deadline = time.monotonic() + 20
        while roadie_app.worker is not None and roadie_app.worker.running:
            assert time.monotonic() < deadline, "the embedded worker ignored TERM"
            await asyncio.sleep(0.05)
        return bool(redis_client.sismember("processes", identity))

    assert serve(app, scenario) is False


def test_worker_options_applied(redis_url: str) -> None:
    roadie_app = Roadie(worker_settings(redis_url), run_worker=True, worker_concurrency=3,
                        worker_queues=["critical,2", "default"])
    app = make_app(roadie_app)

    async def scenario(http: httpx.AsyncClient) -> Settings:
        assert roadie_app.worker is not None
        return roadie_app.worker.settings

    settings = serve(app, scenario)

    assert [str(queue) for queue in settings.queues] == ["critical,2", "default"]
    assert settings.concurrency == 3


# ----------------------------------------------------------------- dashboard


def test_dashboard_mounted_at_path(redis_url: str) -> None:
    roadie_app = Roadie(Settings(redis_url=redis_url))
    app = make_app(roadie_app)
    roadie_app.mount_dashboard(app, "/roadie")

    async def scenario(http: httpx.AsyncClient) -> tuple[int, str]:
        response = await http.get("/roadie/queues")
        return response.status_code, response.text

    status, text = serve(app, scenario)

    assert status == 200
    assert "/roadie/queues" in text


def test_dashboard_read_only_option(redis_url: str) -> None:
    roadie_app = Roadie(Settings(redis_url=redis_url))
    app = make_app(roadie_app)
    roadie_app.mount_dashboard(app, "/roadie", read_only=True)

    async def scenario(http: httpx.AsyncClient) -> int:
        response = await http.post("/roadie/queues/default", data={"action": "delete"})
        return response.status_code

    assert serve(app, scenario) == 403


def test_dashboard_path_validated() -> None:
    with pytest.raises(ConfigError, match="dashboard path"):
        Roadie().mount_dashboard(FastAPI(), "")
