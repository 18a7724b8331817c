"""A job that ends just after shutdown pushed it back leaves exactly one copy in Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import orjson
import pytest

import roadie
from roadie.config import Settings
from roadie.storage.keys import Keys
from roadie.worker.launcher import Launcher

started = threading.Event()


@roadie.job(name="Races.Stubborn")
def stubborn(outcome: str) -> None:
    """Ignore the shutdown interruption, then succeed or fail after the requeue."""
    started.set()
    try:
        for _ in range(300):
            time.sleep(0.01)
    except BaseException:
        time.sleep(0.2)
    if outcome == "fail":
        raise ValueError("failed after the requeue")


@pytest.fixture
def launcher(redis_url: str) -> Iterator[Launcher]:
    started.clear()
    worker = Launcher(Settings(redis_url=redis_url, heartbeat_interval=1.0))
    yield worker
    worker.stop(timeout=0)


@pytest.mark.parametrize("outcome", ["succeed", "fail"])
def test_late_finish_leaves_one_copy(launcher, redis_url, redis_client, outcome) -> None:
    with roadie.Client(redis_url) as client:
        stubborn.set(client=client).perform_async(outcome)
    (original,) = redis_client.lrange("queue:default", 0, -1)

    launcher.start()
    assert started.wait(10), "the job did not start"
    launcher.stop(timeout=0.2)

    assert redis_client.lrange("queue:default", 0, -1) == [original]
    assert redis_client.zcard("retry") == 0
    assert redis_client.zcard("dead") == 0
    assert redis_client.llen(Keys().inprogress(launcher.identity, "default")) == 0


def test_finish_before_deadline_is_acknowledged(launcher, redis_url, redis_client) -> None:
    @roadie.job(name="Races.Quick")
    def quick() -> None:
        started.set()

    with roadie.Client(redis_url) as client:
        quick.set(client=client).perform_async()
    launcher.start()
    assert started.wait(10), "the job did not start"
    launcher.stop(timeout=5)

    assert redis_client.llen("queue:default") == 0
    assert [orjson.loads(raw) for raw in redis_client.zrange("retry", 0, -1)] == []
    assert redis_client.llen(Keys().inprogress(launcher.identity, "default")) == 0
