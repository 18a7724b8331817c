"""Measuring tools shared by the benchmarks: worker processes, the output file, percentiles.

Every job of every system appends one line ``"<n> <epoch start time>"`` to a
shared output file, so :class:`OutputFile` detects completion the same way
for all of them. :class:`Worker` runs a worker command in its own session and
reads CPU time and memory of its whole process tree from /proc through psutil.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psutil

# Seconds between two reads of the output file while waiting for jobs.
POLL_SECONDS = 0.005


class BenchError(Exception):
    """A benchmark step failed: a worker died or stalled, or an enqueuer exited with an error."""


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0-100) of ``values``, interpolating between ranks."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_ms(seconds: Sequence[float]) -> dict[str, float]:
    """Return p50, p99, max and min of durations given in seconds, in milliseconds."""
    return {
        "count": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000,
        "min_ms": min(seconds) * 1000,
    }


def machine_busy_seconds() -> float:
    """Return the CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class OutputFile:
    """The file that jobs append their lines to, read incrementally."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        self._offset = 0
        self._lines = 0

    def count(self) -> int:
        """Return the number of complete lines written so far."""
        with open(self.path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        end = chunk.rfind(b"\n") + 1
        self._lines += chunk.count(b"\n", 0, end)
        self._offset += end
        return self._lines

    def wait_for(self, lines: int, timeout: float, alive: Callable[[], bool], stall: float = 60.0) -> float:
        """Block until the file has ``lines`` lines; return the epoch time that was seen.

        Raises BenchError when ``alive()`` turns false, when no new line comes
        for ``stall`` seconds, or after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        last_count = -1
        last_progress = time.monotonic()
        while True:
            count = self.count()
            if count >= lines:
                return time.time()
            now = time.monotonic()
            if count != last_count:
                last_count, last_progress = count, now
            if not alive():
                raise BenchError(f"the worker exited after {count} of {lines} jobs")
            if now - last_progress > stall:
                raise BenchError(f"no job finished for {stall:.0f} s; stalled at {count} of {lines} jobs")
            if now > deadline:
                raise BenchError(f"timed out after {timeout:.0f} s at {count} of {lines} jobs")
            time.sleep(POLL_SECONDS)

    def records(self) -> dict[int, list[float]]:
        """Return the start times written for each job number (more than one if a job ran twice)."""
        starts: dict[int, list[float]] = {}
        for line in self.path.read_bytes().splitlines():
            number, _, started = line.partition(b" ")
            starts.setdefault(int(number), []).append(float(started))
        return starts


def check_exactly_once(starts: Mapping[int, list[float]], numbers: range) -> dict[str, int]:
    """Count the job numbers in ``numbers`` that never ran, and the extra runs of those that ran twice."""
    missing = sum(1 for n in numbers if n not in starts)
    duplicates = sum(len(starts[n]) - 1 for n in numbers if n in starts)
    return {"missing": missing, "duplicates": duplicates}


class Worker:
    """A worker command running in its own session, so it and its children stop together."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> None:
        self.command = list(command)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")
        self._log.write(("$ " + " ".join(self.command) + "\n").encode())
        self._log.flush()
        self.started_at = time.time()
        self.process = subprocess.Popen(
            self.command, env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self._root = psutil.Process(self.process.pid)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def _tree(self) -> list[psutil.Process]:
        try:
            return [self._root, *self._root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_seconds(self) -> float:
        """Return user plus system CPU seconds of the tree, reaped children included."""
        total = 0.0
        for index, process in enumerate(self._tree()):
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
            if index == 0:
                total += times.children_user + times.children_system
        return total

    def _status_kib(self, field: str) -> int:
        total = 0
        for process in self._tree():
            try:
                with open(f"/proc/{process.pid}/status") as status:
                    for line in status:
                        if line.startswith(field + ":"):
                            total += int(line.split()[1])
                            break
            except OSError:
                continue
        return total

    def rss_mb(self) -> float:
        """Return the resident memory of the tree now (sum of VmRSS), in MiB."""
        return self._status_kib("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        """Return the sum of each live process's peak resident memory (VmHWM), in MiB."""
        return self._status_kib("VmHWM") / 1024

    def processes(self) -> int:
        return len(self._tree())

    def stop(self, timeout: float = 20.0) -> int | None:
        """Send SIGTERM to the worker's process group, then SIGKILL after ``timeout`` seconds."""
        try:
            if self.alive():
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(5)
            else:
                # The leader exited; children it left in the group must go too.
                os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        finally:
            self._log.close()
        return self.process.returncode


def run_json(command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float, log_path: Path) -> Any:
    """Run an enqueuer and return the JSON it printed on its last line of output."""
    completed = subprocess.run(
        list(command), env=dict(env), cwd=cwd, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=timeout, check=False,
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        log.write("$ " + " ".join(command) + "\n" + completed.stderr[-20_000:] + "\n")
    lines = completed.stdout.strip().splitlines()
    if completed.returncode != 0 or not lines:
        tail = completed.stderr.strip().splitlines()[-5:]
        raise BenchError(f"{' '.join(command[:4])} exited with code {completed.returncode}: " + " | ".join(tail))
    return json.loads(lines[-1])
