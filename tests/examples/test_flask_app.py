"""End-to-end test of examples/flask_app: a request enqueues a report job, a burst worker writes it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask.testing import FlaskClient

from roadie.client import Client
from roadie.middleware import server_middleware

pytest_plugins = ["roadie.testing.pytest_plugin"]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_app"
MODULES = ("app", "report_jobs")


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The example's app module, imported from its folder and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    saved_middleware = list(server_middleware)
    for name in MODULES:
        sys.modules.pop(name, None)
    try:
        yield importlib.import_module("app")
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)
        server_middleware.clear()
        for entry in saved_middleware:
            server_middleware.add(entry)


@pytest.fixture
def http(example: ModuleType, roadie_client: Client, tmp_path: Path) -> FlaskClient:
    app = example.create_app({
        "TESTING": True,
        "REPORTS_DIR": str(tmp_path / "reports"),
        "ROADIE": {"redis_url": roadie_client.url, "queues": ["reports", "default"]},
    })
    return app.test_client()


def test_report_built_by_worker(http: FlaskClient, roadie_worker: Callable[..., Any]) -> None:
    created = http.post("/reports", json={"numbers": [3, 1, 4, 1, 5]})
    assert created.status_code == 202
    url = created.get_json()["url"]
    assert http.get(url).status_code == 202

    roadie_worker()

    report = http.get(url)
    assert report.status_code == 200
    assert report.get_data(as_text=True).splitlines()[1:] == [
        "count: 5", "sum: 14", "mean: 2.8", "min: 1", "max: 5",
    ]


def test_request_enqueues_on_reports_queue(http: FlaskClient, roadie_client: Client) -> None:
    created = http.post("/reports", json={"numbers": [2]})

    [raw] = roadie_client.connection.lrange("queue:reports", 0, -1)
    assert created.get_json()["jid"].encode() in raw


def test_invalid_request_rejected(http: FlaskClient, roadie_client: Client) -> None:
    response = http.post("/reports", json={"numbers": ["three"]})

    assert response.status_code == 400
    assert roadie_client.connection.llen("queue:reports") == 0


def test_report_inline_mode(http: FlaskClient, roadie_inline: Any) -> None:
    url = http.post("/reports", json={"numbers": [10, 20]}).get_json()["url"]

    report = http.get(url)

    assert report.status_code == 200
    assert "mean: 15" in report.get_data(as_text=True)
