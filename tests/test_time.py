"""Tests for reading Sidekiq timestamps and converting run times to epoch seconds."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from roadie._time import epoch_from_timestamp, to_epoch


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1_700_000_000.25, 1_700_000_000.25),
        (1_700_000_000_250, 1_700_000_000.25),
        (1_700_000_000, 1_700_000_000.0),
        (0, 0.0),
        (0.0, 0.0),
    ],
    ids=["float-seconds", "int-ms", "int-seconds", "int-zero", "float-zero"],
)
def test_epoch_from_timestamp_formats(value: Any, expected: float) -> None:
    result = epoch_from_timestamp(value)

    assert result == expected
    assert isinstance(result, float)


def test_epoch_ms_threshold_boundary() -> None:
    # 1e12 seconds would be past the year 33658, so it is read as milliseconds.
    assert epoch_from_timestamp(999_999_999_999) == 999_999_999_999.0
    assert epoch_from_timestamp(1_000_000_000_000) == 1_000_000_000.0


@pytest.mark.parametrize("value", [True, False, "1700000000", None, [1], {"at": 1}])
def test_epoch_from_timestamp_rejects(value: Any) -> None:
    assert epoch_from_timestamp(value) is None


def test_to_epoch_aware_datetime() -> None:
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 500_000, tzinfo=dt.timezone.utc)

    assert to_epoch(when) == 1_704_164_645.5


def test_to_epoch_naive_is_local() -> None:
    naive = dt.datetime(2024, 6, 1, 12, 0, 0)

    assert to_epoch(naive) == naive.astimezone().timestamp()


@pytest.mark.parametrize("value", [1_700_000_000, 1_700_000_000.5])
def test_to_epoch_numbers(value: float) -> None:
    result = to_epoch(value)

    assert result == float(value)
    assert isinstance(result, float)


@pytest.mark.parametrize("value", [True, "1700000000", None, dt.date(2024, 1, 1)])
def test_to_epoch_rejects(value: Any) -> None:
    with pytest.raises(TypeError, match="expected a datetime or epoch seconds"):
        to_epoch(value)
