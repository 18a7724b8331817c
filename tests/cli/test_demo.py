"""`roadie demo` end to end: a real worker subprocess, the summary it prints and the report its jobs write.

Each demo run takes a few seconds, mostly the scheduled job's 3 s delay, so
the private-Redis run is shared by the tests that read it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from roadie.cli.demo import NAMESPACE
from roadie.cli.demo_jobs import PRODUCTS

# The demo gives its jobs 60 s, and the rest covers start-up and shutdown.
DEMO_TIMEOUT = 100


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "roadie", "demo", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=DEMO_TIMEOUT,
        env=os.environ.copy(),
    )


@pytest.fixture(scope="module")
def private_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One demo run on its own private Redis, and its output folder."""
    folder = tmp_path_factory.mktemp("demo") / "out"
    return run_demo("--output", str(folder)), folder


def test_demo_exits_with_zero(private_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = private_run
    assert result.returncode == 0, result.stdout


def test_demo_starts_and_stops_private_redis(
    private_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, _ = private_run
    assert "started a private " in result.stdout
    assert "stopped the private " in result.stdout


def test_demo_summary_counts_every_run(private_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = private_run
    lines = result.stdout.splitlines()
    # 5 pages, 3 attempts of the flaky job, the scheduled, async and summary jobs.
    assert "  processed  11 job runs" in lines, result.stdout
    assert "  failed     2 job runs" in lines, result.stdout
    assert "  retried    2 (demo.FlakyJob attempts: 3)" in lines, result.stdout
    assert "  dead       0" in lines, result.stdout
    assert "every demo job ran" in lines, result.stdout


def test_demo_scheduled_job_ran_late(private_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, _ = private_run
    scheduled = [line for line in result.stdout.splitlines() if line.startswith("  scheduled  1, ran ")]
    assert len(scheduled) == 1, result.stdout
    waited = float(scheduled[0].split()[3])
    # perform_in(3) must not run early; how late it runs is not asserted.
    assert waited >= 3.0, scheduled[0]


def test_demo_report_has_each_page(private_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, folder = private_run
    lines = (folder / "report.txt").read_text(encoding="utf-8").splitlines()
    fetch_lines = [line for line in lines if line.startswith("fetch ")]
    assert len(fetch_lines) == len(PRODUCTS)
    for number, (name, price) in enumerate(PRODUCTS, start=1):
        matching = [line for line in fetch_lines if f" /products/{number} " in line]
        assert len(matching) == 1, fetch_lines
        assert f" {name}  ${price} " in matching[0]


def test_demo_report_has_other_jobs(private_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, folder = private_run
    lines = (folder / "report.txt").read_text(encoding="utf-8").splitlines()
    labels = sorted(line.split()[0] for line in lines if not line.startswith("fetch "))
    assert labels == ["async", "retry", "scheduled", "summary"]
    assert f"summary    {len(PRODUCTS)} pages fetched" in lines[-1]


def test_demo_writes_worker_log(private_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, folder = private_run
    log = (folder / "worker.log").read_text(encoding="utf-8")
    assert "jobs registered (5): demo.ChecksumPages, demo.FetchPage" in log
    assert "received SIGTERM; stopping" in log


def test_demo_namespaces_keys_in_given_redis(redis_url: str, redis_client: redis.Redis, tmp_path: Path) -> None:
    redis_client.set("unrelated", "kept")

    result = run_demo("--redis-url", redis_url, "--output", str(tmp_path / "out"))

    assert result.returncode == 0, result.stdout
    assert "started a private " not in result.stdout
    written = sorted(key.decode() for key in redis_client.keys("*") if key != b"unrelated")
    assert written, "the demo wrote no keys"
    assert [key for key in written if not key.startswith(f"{NAMESPACE}:")] == []
    assert redis_client.get("unrelated") == b"kept"
    assert redis_client.get(f"{NAMESPACE}:stat:processed") == b"11"


def test_demo_rejects_nonempty_output_folder(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data")

    result = run_demo("--output", str(tmp_path))

    assert result.returncode == 1
    assert f"output folder {tmp_path} is not empty" in result.stdout
    assert (tmp_path / "keep.txt").read_text() == "user data"
