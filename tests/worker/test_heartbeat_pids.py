"""Tests for the check that separates a gone worker's PID from a running one."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from roadie.worker.heartbeat import _pid_running


def test_running_pid_is_running() -> None:
    assert _pid_running(os.getpid())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_unreaped_killed_child_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        child.kill()
        # Not waited for yet, so the child stays a zombie.
        deadline = time.monotonic() + 10
        while _pid_running(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)

        assert not _pid_running(child.pid)
    finally:
        child.wait()


def test_reaped_child_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()

    assert not _pid_running(child.pid)
