"""End-to-end test of examples/django_project: a development server, a request, a burst worker.

It uses SQLite, or PostgreSQL when DATABASE_URL is set, for example
DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<a database you created>.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "django_project"


@pytest.fixture
def environment(tmp_path: Path, redis_url: str) -> dict[str, str]:
    variables = {name: value for name, value in os.environ.items()
                 if not name.startswith(("ROADIE_", "DJANGO_")) or name == "ROADIE_REDIS_SERVER"}
    variables.update({"REDIS_URL": redis_url, "SHOP_DB": str(tmp_path / "shop.sqlite3"),
                      "PYTHONDONTWRITEBYTECODE": "1"})
    return variables


def manage(environment: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=EXAMPLE, env=environment,
                          capture_output=True, text=True, timeout=120)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # Proxy variables from the environment must not divert loopback requests.
    with httpx.Client(trust_env=False, timeout=10) as client:
        yield client


@pytest.fixture
def server(environment: dict[str, str], tmp_path: Path, http: httpx.Client) -> Iterator[str]:
    """Migrate the database and run `manage.py runserver` on a free loopback port; yield its base URL."""
    migrated = manage(environment, "migrate", "--no-input")
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    log = open(tmp_path / "runserver.log", "w", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=EXAMPLE, env=environment, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                http.get(f"{base}/orders/0", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"runserver did not start: {(tmp_path / 'runserver.log').read_text()}"
                    ) from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def test_order_receipt_written(
    server: str, http: httpx.Client, environment: dict[str, str], redis_client: redis.Redis
) -> None:
    created = http.post(f"{server}/orders", content=json.dumps({"item": "tea", "quantity": 2}))
    assert created.status_code == 202
    order_id = created.json()["order_id"]
    [raw] = redis_client.lrange("queue:receipts", 0, -1)
    assert json.loads(raw)["args"] == [order_id]
    assert http.get(f"{server}/orders/{order_id}").json()["receipt"] is None

    worker = manage(environment, "roadie", "worker", "--burst")

    assert worker.returncode == 0, worker.stderr
    assert http.get(f"{server}/orders/{order_id}").json()["receipt"] == f"Receipt for order {order_id}: 2 x tea"


def test_invalid_order_enqueues_nothing(server: str, http: httpx.Client, redis_client: redis.Redis) -> None:
    response = http.post(f"{server}/orders", content=json.dumps({"item": "", "quantity": 2}))

    assert response.status_code == 400
    assert redis_client.llen("queue:receipts") == 0
