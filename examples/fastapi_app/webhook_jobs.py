"""The job of the FastAPI example: tell another system about a new order by posting to its webhook."""

from __future__ import annotations

from typing import Any

import httpx

import roadie

# Seconds to wait for the webhook before the attempt fails and roadie retries it.
WEBHOOK_TIMEOUT = 10.0


# An explicit name keeps the job's identity stable if this module moves.
@roadie.job(name="fastapi_example.notify_webhook", queue="webhooks", retry=5)
def notify_webhook(url: str, event: dict[str, Any]) -> None:
    """POST ``event`` as JSON to ``url``; an error status or a timeout raises, so roadie retries with backoff."""
    response = httpx.post(url, json=event, timeout=WEBHOOK_TIMEOUT)
    response.raise_for_status()
