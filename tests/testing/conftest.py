"""Fixtures for the testing-mode tests: a process default client on the test server, or on a closed port."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

import roadie
from roadie.client import _reset_defaults
from roadie.config import Settings


@pytest.fixture
def default_on_server(redis_url: str) -> Iterator[str]:
    """Point the process default client at the emptied test server; return its URL."""
    roadie.configure(url=redis_url, settings=Settings())
    try:
        yield redis_url
    finally:
        _reset_defaults()


@pytest.fixture
def default_on_closed_port() -> Iterator[str]:
    """Point the process default client at a loopback port nothing listens on; return that URL."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    roadie.configure(url=url, settings=Settings())
    try:
        yield url
    finally:
        _reset_defaults()
