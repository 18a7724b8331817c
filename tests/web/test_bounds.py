"""Every numeric and choice parameter is bounded: out-of-range values are rejected with 400."""

from __future__ import annotations

import pytest

LIST_PAGES = ["/busy", "/queues/default", "/retries", "/scheduled", "/morgue"]


@pytest.mark.parametrize("days", ["0", "181", "-1", "abc", "1.5", "9" * 60, "1e2", " 7"])
def test_days_out_of_range_400(dashboard, days: str) -> None:
    assert dashboard.get("/", params={"days": days}).status_code == 400


@pytest.mark.parametrize("days", ["1", "7", "180"])
def test_days_in_range_200(dashboard, days: str) -> None:
    assert dashboard.get("/", params={"days": days}).status_code == 200


def test_days_empty_uses_default(dashboard) -> None:
    html = dashboard.get("/?days=").text
    assert "Last 30 days" in html


@pytest.mark.parametrize("path", LIST_PAGES)
@pytest.mark.parametrize("count", ["0", "-5", "1001", "abc", "2.5"])
def test_count_out_of_range_400(dashboard, path: str, count: str) -> None:
    assert dashboard.get(path, params={"count": count}).status_code == 400


@pytest.mark.parametrize("path", LIST_PAGES)
@pytest.mark.parametrize("count", ["1", "1000"])
def test_count_in_range_200(dashboard, path: str, count: str) -> None:
    assert dashboard.get(path, params={"count": count}).status_code == 200


@pytest.mark.parametrize("path", LIST_PAGES)
@pytest.mark.parametrize("page", ["0", "-1", "abc", "1000001"])
def test_page_out_of_range_400(dashboard, path: str, page: str) -> None:
    assert dashboard.get(path, params={"page": page}).status_code == 400


def test_direction_must_be_known(dashboard) -> None:
    assert dashboard.get("/queues/default?direction=sideways").status_code == 400


def test_long_filter_rejected(dashboard) -> None:
    assert dashboard.get("/retries", params={"substr": "x" * 201}).status_code == 400
    assert dashboard.get("/retries", params={"substr": "x" * 200}).status_code == 200


def test_bad_parameter_message_names_it(dashboard) -> None:
    html = dashboard.get("/?days=0").text
    assert "invalid days 0: expected a whole number from 1 to 180" in html
