"""The Sentry error handler sends one event per job failure, tagged with the job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

import roadie
from roadie.contrib import sentry


class RecordingTransport(Transport):
    """Keeps events in memory instead of sending them anywhere."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Any) -> None:
        for item in envelope.items:
            if item.type == "event":
                self.events.append(item.payload.json)


@roadie.job(name="SentryTest.Fail")
def fail(order_id: int) -> None:
    raise LookupError(f"order {order_id} not found")


@pytest.fixture
def transport() -> Iterator[RecordingTransport]:
    recording = RecordingTransport()
    sentry_sdk.init(dsn="https://key@sentry.invalid/1", transport=recording, default_integrations=False,
                    auto_enabling_integrations=False)
    sentry.install()
    try:
        yield recording
    finally:
        sentry.uninstall()
        # A client without a DSN sends nothing; no integration may patch other libraries.
        sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)


def test_failure_becomes_tagged_event(transport, redis_url, run_burst) -> None:
    with roadie.Client(redis_url) as client:
        jid = fail.set(client=client).perform_async(42)

    run_burst()
    sentry_sdk.flush()

    (event,) = transport.events
    assert event["tags"]["roadie.job"] == "SentryTest.Fail"
    assert event["tags"]["roadie.jid"] == jid
    assert event["tags"]["roadie.queue"] == "default"
    assert event["exception"]["values"][-1]["type"] == "LookupError"
    assert event["contexts"]["roadie job"]["args"] == [42]


def test_install_is_idempotent() -> None:
    sentry.install()
    sentry.install()
    try:
        assert roadie.error_handlers.count(sentry.capture) == 1
    finally:
        sentry.uninstall()
    assert sentry.capture not in roadie.error_handlers
