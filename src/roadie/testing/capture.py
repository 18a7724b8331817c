"""Turn enqueued items into the job hashes a worker would read, without writing to Redis.

Both testing modes pass each item through the same steps as a real push:
validation, client middleware, and encoding to JSON. The hash they keep is
decoded back from that JSON, so a value that would not survive the trip to
Redis fails in tests too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from roadie.client import AsyncClient, Client, default_client

__all__ = ["capture", "capture_async", "jids_of"]


def capture(client: Client | None, items: Iterable[dict[str, Any]]) -> list[dict[str, Any] | None]:
    """Return the wire-format hash of each item, or None where a client middleware stopped it.

    ``client`` supplies the settings and middleware chain; None means the
    process-wide default client, which connects to nothing until it pushes.
    """
    # NOTE: this calls the client's private validation and encoding steps so
    # the captured hash matches what Client.push would write byte for byte.
    chosen = client or default_client()
    captured: list[dict[str, Any] | None] = []
    for raw in items:
        item = chosen._normalize(raw)

        def final(item: dict[str, Any] = item) -> dict[str, Any]:
            return item

        result = chosen.middleware.invoke((item, item["queue"]), final)
        captured.append(None if result is None else _wire_hash(chosen, result))
    return captured


async def capture_async(
    client: AsyncClient | None, items: Iterable[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """Async twin of :func:`capture`; client middleware may be ``async def`` here."""
    chosen: Client | AsyncClient = client or default_client()
    captured: list[dict[str, Any] | None] = []
    for raw in items:
        item = chosen._normalize(raw)

        async def final(item: dict[str, Any] = item) -> dict[str, Any]:
            return item

        result = await chosen.middleware.invoke_async((item, item["queue"]), final)
        captured.append(None if result is None else _wire_hash(chosen, result))
    return captured


def jids_of(captured: list[dict[str, Any] | None]) -> list[str | None]:
    """Return the jids of captured hashes, None where a middleware stopped the push."""
    return [None if job is None else job["jid"] for job in captured]


def _wire_hash(client: Client | AsyncClient, item: dict[str, Any]) -> dict[str, Any]:
    prepared = client._prepare(item)
    job: dict[str, Any] = orjson.loads(prepared.data)
    if prepared.at is not None:
        # A real push keeps the run time as the schedule score; keep it in
        # the hash so tests can check when the job was meant to run.
        job["at"] = prepared.at
    return job
