"""Fetching ahead of free slots while jobs are short, and the limits that still hold."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

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


def test_short_jobs_fetched_ahead(client: Client, run_burst: Callable[..., None], batch_sizes: list[int]) -> None:
    quick.set(client=client).perform_bulk([[number] for number in range(300)])

    # This module registers an async job too, so the worker has 2 threads and 1 async slot.
    run_burst(queues=["prefetch"], concurrency=2, async_concurrency=1, prefetch_wait=0.01)

    assert _ran == 300
    assert max(batch_sizes) > 3


def test_no_wait_fetches_for_free_slots(client: Client, run_burst: Callable[..., None],
                                       batch_sizes: list[int]) -> None:
    quick.set(client=client).perform_bulk([[number] for number in range(300)])

    run_burst(queues=["prefetch"], concurrency=2, async_concurrency=1, prefetch_wait=0)

    assert _ran == 300
    assert max(batch_sizes) <= 3


def test_async_jobs_stay_within_async_concurrency(client: Client, run_burst: Callable[..., None]) -> None:
    overlapping.set(client=client).perform_bulk([[number] for number in range(60)])

    run_burst(queues=["prefetch"], concurrency=2, async_concurrency=3, prefetch_wait=0.5)

    assert _ran == 60
    assert _max_running <= 3
