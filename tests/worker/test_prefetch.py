"""Fetching ahead of free slots while jobs are short, and the limits that still hold."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
import redis

import roadie
from roadie.client import Client
from roadie.worker.fetcher import Capacity, Fetcher

_lock = threading.Lock()
_running = 0
_max_running = 0
_ran = 0


@roadie.job(queue="prefetch")
def quick(number: int) -> None:
    global _ran
    with _lock:
        _ran += 1


@roadie.job(queue="prefetch")
def sleeper(number: int, seconds: float) -> None:
    global _ran
    time.sleep(seconds)
    with _lock:
        _ran += 1


@roadie.job(queue="prefetch")
async def overlapping(number: int) -> None:
    global _running, _max_running, _ran
    with _lock:
        _running += 1
        _max_running = max(_max_running, _running)
    await asyncio.sleep(0.005)
    with _lock:
        _running -= 1
        _ran += 1


@pytest.fixture(autouse=True)
def reset_counts() -> None:
    global _running, _max_running, _ran
    _running = _max_running = _ran = 0


@pytest.fixture
def client(redis_url: str) -> Iterator[Client]:
    with Client(redis_url) as instance:
        yield instance


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every batch the fetcher hands over."""
    sizes: list[int] = []
    original = Fetcher._deliver

    def deliver(self: Fetcher, units: list) -> None:
        sizes.append(len(units))
        original(self, units)

    monkeypatch.setattr(Fetcher, "_deliver", deliver)
    return sizes


@pytest.mark.parametrize(
    ("slots", "prefetch_wait", "slot_time", "ahead"),
    [
        (4, 0.0, 0.0001, 0),  # turned off
        (4, 0.005, 0.0001, Capacity.PREFETCH_PER_SLOT * 4),  # short jobs: the cap
        (10, 0.005, 0.05, 1),  # 50 ms jobs on 10 slots: one extra job
        (10, 0.005, 0.5, 0),
    ],
)
def test_capacity_ahead_follows_slot_time(slots: int, prefetch_wait: float, slot_time: float, ahead: int) -> None:
    capacity = Capacity(slots, prefetch_wait=prefetch_wait)
    capacity.take(10)

    for _ in range(10):
        capacity.release(slot_time)

    assert capacity.ahead == ahead
    assert capacity.limit == slots + ahead


def test_capacity_unrun_jobs_leave_average() -> None:
    capacity = Capacity(2, prefetch_wait=0.005)
    capacity.take(2)

    capacity.release(None)
    capacity.release(None)

    assert capacity.limit == 2
    assert capacity.in_flight == 0


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Make the in-process worker see only the given jobs as registered, so the test picks its pools."""
    from roadie import jobs as jobs_module

    def only(*functions: Any) -> None:
        monkeypatch.setattr(jobs_module, "registered_jobs", lambda: {function.name: function for function in functions})

    return only


@pytest.mark.parametrize(("prefetch_wait", "fetches_ahead"), [(0.01, True), (0, False)])
def test_short_jobs_batch_size(client: Client, run_burst: Callable[..., None], batch_sizes: list[int],
                               registered: Callable[..., None], prefetch_wait: float, fetches_ahead: bool) -> None:
    registered(quick)
    quick.set(client=client).perform_bulk([[number] for number in range(300)])

    run_burst(queues=["prefetch"], concurrency=2, prefetch_wait=prefetch_wait)

    assert _ran == 300
    # Two threads: a batch larger than 2 contains jobs fetched ahead.
    assert (max(batch_sizes) > 2) is fetches_ahead


def test_mixed_kinds_fetch_for_free_slots(client: Client, run_burst: Callable[..., None], batch_sizes: list[int],
                                         registered: Callable[..., None]) -> None:
    registered(quick, overlapping)
    quick.set(client=client).perform_bulk([[number] for number in range(300)])

    run_burst(queues=["prefetch"], concurrency=2, async_concurrency=1, prefetch_wait=0.01)

    assert _ran == 300
    assert max(batch_sizes) <= 3


def test_async_jobs_stay_within_async_concurrency(client: Client, run_burst: Callable[..., None],
                                                  registered: Callable[..., None]) -> None:
    registered(overlapping)
    overlapping.set(client=client).perform_bulk([[number] for number in range(60)])

    run_burst(queues=["prefetch"], async_concurrency=3, prefetch_wait=0.5)

    assert _ran == 60
    assert _max_running <= 3


def test_stale_fetched_ahead_jobs_go_back(client: Client, run_burst: Callable[..., None],
                                          registered: Callable[..., None], redis_client: redis.Redis,
                                          caplog: pytest.LogCaptureFixture) -> None:
    registered(quick, sleeper)
    quick.set(client=client).perform_bulk([[number] for number in range(100)])
    sleeper.set(client=client).perform_bulk([[number, 0.7] for number in range(6)])
    caplog.set_level(logging.INFO, logger="roadie.worker.manager")

    # Short jobs first, so the worker fetches several jobs per slot ahead, then 0.7 s jobs on one
    # thread: fetched-ahead slow jobs wait past the 1 s stale limit until a heartbeat pushes them back.
    run_burst(queues=["prefetch"], concurrency=1, prefetch_wait=0.001)

    assert _ran == 106
    assert any("jobs back to queue 'prefetch'" in record.getMessage() for record in caplog.records)
    assert redis_client.llen("queue:prefetch") == 0


def test_stop_pushes_fetched_ahead_back_in_order(client: Client, redis_url: str, redis_client: redis.Redis,
                                                 registered: Callable[..., None]) -> None:
    from roadie.config import Settings
    from roadie.worker.launcher import Launcher

    registered(sleeper)
    sleeper.set(client=client).perform_bulk([[number, 0.2] for number in range(20)])
    launcher = Launcher(Settings(redis_url=redis_url, queues=["prefetch"], concurrency=1, prefetch_wait=1.0))
    launcher.start()
    # The first job sets the slot-time average; later fetches then take 5 more jobs than the one slot.
    time.sleep(0.7)
    launcher.stop(timeout=5)

    waiting = [orjson.loads(raw)["args"][0] for raw in reversed(redis_client.lrange("queue:prefetch", 0, -1))]
    assert waiting == list(range(_ran, 20))


def test_quiet_claims_only_pending_units() -> None:
    from roadie.worker.unit import UnitState, WorkUnit

    running = WorkUnit(b"{}", "default")
    waiting = WorkUnit(b"{}", "default")

    assert running.start()
    assert not running.claim_pending()
    assert running.state is UnitState.RUNNING
    assert waiting.claim_pending()
    assert not waiting.start()
    assert not waiting.started


def test_stale_jobs_not_fetched_straight_back(client: Client, run_burst: Callable[..., None],
                                              registered: Callable[..., None],
                                              caplog: pytest.LogCaptureFixture) -> None:
    registered(quick, sleeper)
    quick.set(client=client).perform_bulk([[number] for number in range(100)])
    sleeper.set(client=client).perform_bulk([[1000, 3.0]])
    quick.set(client=client).perform_bulk([[number] for number in range(30)])
    caplog.set_level(logging.INFO, logger="roadie.worker.manager")

    # The 3 s job blocks the only thread with short jobs fetched behind it. They are
    # pushed back once, and the lowered limit keeps them in the queue until the thread is free.
    run_burst(queues=["prefetch"], concurrency=1, prefetch_wait=0.005)

    pushes = [record for record in caplog.records if "jobs back to queue 'prefetch'" in record.getMessage()]
    assert _ran == 131
    assert len(pushes) == 1
