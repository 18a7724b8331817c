"""End-to-end test of examples/fastapi_app: a request enqueues a webhook job, a burst worker delivers it."""

from __future__ import annotations

import asyncio
import http.server
import importlib
import json
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from roadie.client import Client

pytest_plugins = ["roadie.testing.pytest_plugin"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app"
MODULES = ("main", "webhook_jobs")


class WebhookServer:
    """An HTTP server on loopback that records each POSTed JSON body and responds with ``status``."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.status = 204
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length", "0"))
                outer.received.append(json.loads(self.rfile.read(length)))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/orders"
        self.thread = threading.Thread(target=self.server.serve_forever, name="webhook-server", daemon=True)

    def __enter__(self) -> WebhookServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def webhook() -> Iterator[WebhookServer]:
    with WebhookServer() as server:
        yield server


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example's main module, imported from its folder and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    monkeypatch.delenv("EMBEDDED_WORKER", raising=False)
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        yield importlib.import_module("main")
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)


def post_order(app: Any, body: dict[str, Any]) -> httpx.Response:
    """Start the app, POST ``body`` to /orders through httpx's ASGI transport, and shut the app down."""

    async def main() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.post("/orders", json=body)

    return asyncio.run(main())


def test_order_reaches_webhook(
    example: ModuleType, roadie_client: Client, roadie_worker: Callable[..., Any], webhook: WebhookServer
) -> None:
    app = example.create_app(roadie_client.settings, webhook_url=webhook.url, run_worker=False)

    response = post_order(app, {"item": "tea", "quantity": 2})
    assert response.status_code == 202
    assert webhook.received == []

    roadie_worker()

    order_id = response.json()["order_id"]
    assert webhook.received == [{"type": "order.created", "order_id": order_id, "item": "tea", "quantity": 2}]


def test_failing_webhook_retried(
    example: ModuleType, roadie_client: Client, roadie_worker: Callable[..., Any], webhook: WebhookServer
) -> None:
    webhook.status = 503
    app = example.create_app(roadie_client.settings, webhook_url=webhook.url, run_worker=False)

    post_order(app, {"item": "tea", "quantity": 1})
    roadie_worker()

    [raw] = roadie_client.connection.zrange("retry", 0, -1)
    assert json.loads(raw)["error_class"] == "httpx.HTTPStatusError"
    assert len(webhook.received) == 1


def test_invalid_order_rejected(example: ModuleType, roadie_client: Client, webhook: WebhookServer) -> None:
    app = example.create_app(roadie_client.settings, webhook_url=webhook.url, run_worker=False)

    response = post_order(app, {"item": "", "quantity": 0})

    assert response.status_code == 422
    assert roadie_client.connection.llen("queue:webhooks") == 0


def test_embedded_worker_delivers(example: ModuleType, roadie_client: Client, webhook: WebhookServer) -> None:
    app = example.create_app(roadie_client.settings, webhook_url=webhook.url, run_worker=True)

    async def main() -> list[dict[str, Any]]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                await client.post("/orders", json={"item": "cake", "quantity": 3})
            deadline = asyncio.get_running_loop().time() + 20
            while not webhook.received:
                assert asyncio.get_running_loop().time() < deadline, "the embedded worker never called the webhook"
                await asyncio.sleep(0.02)
            return webhook.received

    [event] = asyncio.run(main())

    assert event["item"] == "cake"
