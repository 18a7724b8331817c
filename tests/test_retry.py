"""Tests for the retry policy: backoff, jitter, retry limits and retry_for deadlines."""

from __future__ import annotations

import random
from typing import Any

import pytest

from roadie.retry import backoff_seconds, jitter_seconds, max_retries_for, retries_exhausted


class FixedRandom(random.Random):
    """A generator whose random() always returns one value."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(("count", "seconds"), [(0, 15.0), (1, 16.0), (2, 31.0), (3, 96.0), (24, 331_791.0)])
def test_backoff_sidekiq_schedule(count: int, seconds: float) -> None:
    assert backoff_seconds(count) == seconds


def test_backoff_25_retries_span() -> None:
    # Without jitter the 25 default retries take about 20 days, as Sidekiq documents.
    total_days = sum(backoff_seconds(count) for count in range(25)) / 86_400

    assert 20 < total_days < 21


@pytest.mark.parametrize("count", [0, 1, 5, 24])
def test_jitter_lower_bound(count: int) -> None:
    assert jitter_seconds(count, FixedRandom(0.0)) == 0.0


@pytest.mark.parametrize("count", [0, 1, 5, 24])
def test_jitter_upper_bound(count: int) -> None:
    jitter = jitter_seconds(count, FixedRandom(0.999_999))

    assert jitter < 10 * (count + 1)
    assert jitter > 10 * (count + 1) * 0.999


def test_jitter_random_within_bounds() -> None:
    rng = random.Random(1234)

    values = [jitter_seconds(2, rng) for _ in range(1000)]

    assert min(values) >= 0
    assert max(values) < 30
    assert len(set(values)) > 900


@pytest.mark.parametrize(
    ("retry", "expected"),
    [
        (True, 25),
        (False, None),
        (None, None),
        (0, 0),
        (3, 3),
        ("5", 5),
        (-2, 0),
        ("often", 25),
    ],
)
def test_max_retries_for_values(retry: Any, expected: int | None) -> None:
    assert max_retries_for(retry, 25) == expected


def test_max_retries_for_default() -> None:
    assert max_retries_for(True, 7) == 7


@pytest.mark.parametrize(("count", "exhausted"), [(0, False), (2, False), (3, True), (4, True)])
def test_exhausted_by_count(count: int, exhausted: bool) -> None:
    assert retries_exhausted({"class": "A", "args": []}, count, 3, now=1_000.0) is exhausted


def test_exhausted_zero_retries() -> None:
    assert retries_exhausted({}, 0, 0, now=1_000.0) is True


def test_retry_for_float_seconds() -> None:
    job = {"retry_for": 60, "failed_at": 1_700_000_000.5}

    assert retries_exhausted(job, 99, 3, now=1_700_000_060.0) is False
    assert retries_exhausted(job, 0, 3, now=1_700_000_061.0) is True


def test_retry_for_ignores_count() -> None:
    job = {"retry_for": 3600.0, "failed_at": 1_700_000_000.0}

    assert retries_exhausted(job, 500, 25, now=1_700_000_100.0) is False


def test_retry_for_integer_ms_failed_at() -> None:
    # Sidekiq 8 writes failed_at as integer epoch milliseconds.
    job = {"retry_for": 60, "failed_at": 1_700_000_000_000}

    assert retries_exhausted(job, 0, 25, now=1_700_000_059.0) is False
    assert retries_exhausted(job, 0, 25, now=1_700_000_061.0) is True


@pytest.mark.parametrize("failed_at", [None, "yesterday", True])
def test_retry_for_unreadable_failed_at(failed_at: Any) -> None:
    # Without a readable failed_at the count decides, so the job cannot retry forever.
    job = {"retry_for": 60, "failed_at": failed_at}

    assert retries_exhausted(job, 1, 3, now=2_000_000_000.0) is False
    assert retries_exhausted(job, 3, 3, now=2_000_000_000.0) is True


def test_retry_for_bool_ignored() -> None:
    job = {"retry_for": True, "failed_at": 1.0}

    assert retries_exhausted(job, 0, 3, now=1_000.0) is False
