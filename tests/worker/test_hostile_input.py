"""Hostile payloads put straight into a queue: each ends in retry or dead, and the worker goes on."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import orjson
import pytest

import roadie

ran: list[int] = []


@roadie.job(name="Hostile.Ok")
def ok(value: int) -> None:
    ran.append(value)


@roadie.job(name="Hostile.Raise")
def raise_it(kind: str) -> None:
    if kind == "binary-message":
        raise ValueError(b"\xff\x00\xfe binary")
    if kind == "base-exception":
        raise BaseException("not an Exception")
    if kind == "large":
        raise ValueError("large payload failed")
    raise AssertionError(kind)


@pytest.fixture
def client(redis_url: str) -> Iterator[roadie.Client]:
    ran.clear()
    with roadie.Client(redis_url) as client:
        yield client


def _dead(redis_client) -> list[dict]:
    return [orjson.loads(raw) for raw in redis_client.zrange("dead", 0, -1)]


def _retries(redis_client) -> list[dict]:
    return [orjson.loads(raw) for raw in redis_client.zrange("retry", 0, -1)]


DEEP = b'{"class":"Hostile.Ok","args":' + b"[" * 5000 + b"]" * 5000 + b"}"

UNDECODABLE = {
    "not-json": b"not json at all",
    "json-array": b"[1, 2, 3]",
    "json-string": b'"just a string"',
    "missing-class": b'{"args": [1], "jid": "abc"}',
    "missing-args": b'{"class": "Hostile.Ok"}',
    "args-not-list": b'{"class": "Hostile.Ok", "args": {"a": 1}}',
    "invalid-utf8": b'{"class": "Hostile.Ok", "args": ["\xff\xfe"]}',
    "deeply-nested": DEEP,
}


@pytest.mark.parametrize("raw", UNDECODABLE.values(), ids=UNDECODABLE.keys())
def test_undecodable_payload_goes_dead(client, run_burst, redis_client, raw: bytes) -> None:
    redis_client.lpush("queue:default", raw)
    ok.set(client=client).perform_async(1)

    run_burst()

    (entry,) = _dead(redis_client)
    assert entry["error_class"] == "roadie.errors.PayloadError"
    assert entry["error_message"]
    assert base64.b64decode(entry["raw_base64"]) == raw
    assert ran == [1]
    assert redis_client.llen("queue:default") == 0


def test_unknown_job_name_is_retried(client, run_burst, redis_client) -> None:
    client.push({"class": "Nobody.Knows", "args": []})
    ok.set(client=client).perform_async(2)

    run_burst()

    (entry,) = _retries(redis_client)
    assert entry["error_class"] == "roadie.errors.UnknownJobError"
    assert "Nobody.Knows" in entry["error_message"]
    assert ran == [2]


@pytest.mark.parametrize(
    ("kind", "error_class", "message"),
    [("binary-message", "ValueError", "b'\\xff\\x00\\xfe binary'"),
     ("base-exception", "BaseException", "not an Exception")],
)
def test_odd_exceptions_are_recorded(client, run_burst, redis_client, kind, error_class, message) -> None:
    raise_it.set(client=client).perform_async(kind)
    ok.set(client=client).perform_async(3)

    run_burst()

    (entry,) = _retries(redis_client)
    assert entry["error_class"] == error_class
    assert entry["error_message"] == message
    assert ran == [3]


def test_five_megabyte_payload_round_trips(client, run_burst, redis_client, caplog) -> None:
    big = "x" * (5 * 1024 * 1024)
    with caplog.at_level("WARNING", logger="roadie.client"):
        client.push({"class": "Hostile.Raise", "args": ["large"], "blob": big})
    assert any("max_payload_bytes" in record.getMessage() for record in caplog.records)
    ok.set(client=client).perform_async(4)

    run_burst()

    (entry,) = _retries(redis_client)
    assert entry["blob"] == big
    assert ran == [4]
