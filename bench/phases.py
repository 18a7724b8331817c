"""The five benchmarks. Each takes one system and a :class:`Context` and returns a dict of figures.

Every benchmark starts from an empty Redis (FLUSHALL) and a fresh output file,
and stops the worker it started, whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import redis

from environment import APPS_DIR, venv_bin
from measure import (
    BenchError, OutputFile, Worker, check_exactly_once, machine_busy_seconds, run_json, summarize_ms,
)
from systems import System

LATENCY_JOBS = 200
WARMUP_JOBS = 3
IDLE_SETTLE_SECONDS = 1.0
MEMORY_IDLE_SECONDS = 5.0
MEMORY_FIRST_JOBS = 10_000
MEMORY_CHUNK_JOBS = 50_000
ENQUEUE_TIMEOUT = 900.0


@dataclass
class Context:
    """State shared by the systems of one run: its Redis server and the folder for files."""

    redis_url: str
    redis_pid: int
    run_dir: Path
    jobs: int
    memory_jobs: int
    profile_rate: int = 0  # py-spy samples per second for roadie's throughput worker; 0 is off
    profile_gil: bool = False  # sample only the thread that holds the GIL

    def __post_init__(self) -> None:
        self.client = redis.Redis.from_url(self.redis_url)

    def fresh(self, system: System, phase: str) -> OutputFile:
        """Empty Redis and return a new output file for ``phase`` of ``system``."""
        self.client.flushall()
        return OutputFile(self.run_dir / "output" / f"{system.name}-{phase}.txt")

    def env(self, system: System, output: OutputFile) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            REDIS_URL=self.redis_url, BENCH_REDIS_URL=self.redis_url, BENCH_OUTPUT=str(output.path),
            PYTHONPATH=str(APPS_DIR), PYTHONUNBUFFERED="1", **system.env,
        )
        return env

    def log(self, system: System, phase: str) -> Path:
        return self.run_dir / "logs" / f"{system.name}-{phase}.log"

    def enqueue(self, system: System, output: OutputFile, phase: str, mode: str, jobs: int, first: int = 0,
                queue: str | None = None) -> Any:
        command = system.enqueue_command(mode, jobs, first, queue)
        return run_json(command, self.env(system, output), APPS_DIR, ENQUEUE_TIMEOUT, self.log(system, phase))

    def start_worker(self, system: System, output: OutputFile, phase: str, queues: list[str] | None = None) -> Worker:
        command = system.worker(queues or [], self.redis_url)
        return Worker(command, self.env(system, output), APPS_DIR, self.log(system, phase))

    def redis_command_calls(self) -> dict[str, int]:
        """Return the calls of each command since the last CONFIG RESETSTAT, commands run by Lua scripts included."""
        stats = self.client.info("commandstats")
        return {name.removeprefix("cmdstat_"): int(values["calls"]) for name, values in stats.items()}

    def redis_cpu_seconds(self) -> float:
        times = psutil.Process(self.redis_pid).cpu_times()
        return times.user + times.system


def _drain_timeout(jobs: int) -> float:
    # Generous: the slowest system measured here drains tens of jobs a second.
    return min(1800.0, 120.0 + jobs / 10)


def throughput(system: System, ctx: Context) -> dict[str, Any]:
    """Enqueue N jobs in bulk, then time one worker from its start until the last job finished."""
    jobs = min(ctx.jobs, system.max_jobs or ctx.jobs)
    output = ctx.fresh(system, "throughput")
    enqueued = ctx.enqueue(system, output, "throughput", "bulk", jobs)

    redis_cpu_before = ctx.redis_cpu_seconds()
    machine_before = machine_busy_seconds()
    ctx.client.config_resetstat()
    worker = ctx.start_worker(system, output, "throughput")
    profiler = _start_profiler(worker, ctx) if ctx.profile_rate else None
    try:
        done_at = output.wait_for(jobs, _drain_timeout(jobs), worker.alive)
        cpu = worker.cpu_seconds()
        peak_rss = worker.peak_rss_mb()
        processes = worker.processes()
        redis_cpu = ctx.redis_cpu_seconds() - redis_cpu_before
        machine_busy = machine_busy_seconds() - machine_before
        calls = ctx.redis_command_calls()
    finally:
        worker.stop()
        if profiler is not None:
            profiler.wait(30)

    starts = output.records()
    first_start = min(min(times) for times in starts.values())
    elapsed = done_at - worker.started_at
    return {
        "jobs": jobs,
        "bulk_enqueue_seconds": enqueued["seconds"],
        "seconds": elapsed,
        "rate": jobs / elapsed,
        "startup_seconds": first_start - worker.started_at,
        "steady_rate": jobs / (done_at - first_start),
        "cpu_seconds": cpu,
        "cpu_ms_per_1000": cpu / jobs * 1_000_000,
        "peak_rss_mb": peak_rss,
        "processes": processes,
        "redis_cpu_seconds": redis_cpu,
        "redis_commands_per_job": sum(calls.values()) / jobs,
        "redis_commands": dict(sorted(calls.items(), key=lambda item: -item[1])[:8]),
        # CPU used meanwhile by everything else on the machine, this driver included, in cores.
        "other_cpu_cores": max(0.0, machine_busy - cpu - redis_cpu) / elapsed,
        **check_exactly_once(starts, range(jobs)),
    }


def _start_profiler(worker: Worker, ctx: Context) -> subprocess.Popen[bytes]:
    """Attach py-spy to the worker; it writes collapsed stacks when the worker exits.

    py-spy leaves out samples of threads that it detects as idle, but it
    counts a thread blocked in ``SimpleQueue.get``, ``Condition.wait`` or a
    socket read as active, so the summary lists each thread's frames. With
    ``profile_gil`` only the thread holding the GIL is sampled.
    """
    time.sleep(0.3)  # let the interpreter start before attaching
    path = ctx.run_dir / "profile-roadie.txt"
    command = [venv_bin("roadie", "py-spy"), "record", "--pid", str(worker.pid), "--rate", str(ctx.profile_rate),
               "--format", "raw", "--threads", "--output", str(path)]
    if ctx.profile_gil:
        command.append("--gil")
    with open(ctx.run_dir / "logs" / "py-spy.log", "ab") as log:
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)


def enqueue(system: System, ctx: Context) -> dict[str, Any]:
    """Time N single enqueue calls, then N jobs through the bulk path, each into an empty Redis."""
    jobs = ctx.jobs
    output = ctx.fresh(system, "enqueue")
    single = ctx.enqueue(system, output, "enqueue", "single", jobs)
    output = ctx.fresh(system, "enqueue")
    bulk = ctx.enqueue(system, output, "enqueue", "bulk", jobs)
    ctx.client.flushall()
    return {
        "jobs": jobs,
        "single_rate": jobs / single["seconds"],
        "bulk_rate": jobs / bulk["seconds"],
    }


def _idle_worker(system: System, ctx: Context, output: OutputFile, phase: str, queues: list[str],
                 queue: str | None, settle: float) -> Worker:
    """Start a worker, run a few warm-up jobs (numbered below 0) through it, then let it idle."""
    worker = ctx.start_worker(system, output, phase, queues)
    try:
        ctx.enqueue(system, output, phase, "single", WARMUP_JOBS, first=-WARMUP_JOBS, queue=queue)
        output.wait_for(WARMUP_JOBS, 120.0, worker.alive)
        time.sleep(settle)
    except BaseException:
        worker.stop()
        raise
    return worker


def _timed_pushes(system: System, ctx: Context, phase: str, mode: str, queues: list[str], queue: str | None,
                  settle: float, late_budget: float) -> list[float]:
    """Push LATENCY_JOBS jobs 20 ms apart to an idle worker; return each job's start minus its reference time.

    The reference is the time before the push (``spaced``) or the due time (``schedule``).
    """
    output = ctx.fresh(system, phase)
    worker = _idle_worker(system, ctx, output, phase, queues, queue, settle)
    try:
        pushed = ctx.enqueue(system, output, phase, mode, LATENCY_JOBS, queue=queue)
        output.wait_for(WARMUP_JOBS + LATENCY_JOBS, late_budget, worker.alive)
    finally:
        worker.stop()
    starts = output.records()
    delays = []
    for number, pushed_at, due in pushed["pushes"]:
        reference = pushed_at if due is None else due
        delays.append(min(starts[number]) - reference)
    return delays


def latency(system: System, ctx: Context) -> list[dict[str, Any]]:
    """Measure enqueue-to-start time on an idle worker, for each queue variant of the system."""
    results = []
    for label, queues, queue in system.latency_variants():
        delays = _timed_pushes(system, ctx, "latency", "spaced", queues, queue, IDLE_SETTLE_SECONDS, 60.0)
        results.append({"variant": label, "queue": queue, **summarize_ms(delays)})
    return results


def schedule(system: System, ctx: Context) -> dict[str, Any]:
    """Measure how late jobs scheduled 1 s ahead start, on an idle worker."""
    delays = _timed_pushes(system, ctx, "schedule", "schedule", [], None, system.schedule_settle, 120.0)
    result = summarize_ms(delays)
    result["early"] = sum(1 for delay in delays if delay < 0)
    return result


def memory(system: System, ctx: Context) -> dict[str, Any]:
    """Read the worker's resident memory idle, after 10,000 jobs and after ``memory_jobs`` jobs."""
    output = ctx.fresh(system, "memory")
    worker = ctx.start_worker(system, output, "memory")
    try:
        time.sleep(MEMORY_IDLE_SECONDS)
        if not worker.alive():
            raise BenchError("the worker exited while idle")
        idle = worker.rss_mb()
        first = min(MEMORY_FIRST_JOBS, ctx.memory_jobs)
        ctx.enqueue(system, output, "memory", "bulk", first)
        output.wait_for(first, _drain_timeout(first), worker.alive)
        time.sleep(IDLE_SETTLE_SECONDS)
        after_first = worker.rss_mb()
        for start in range(first, ctx.memory_jobs, MEMORY_CHUNK_JOBS):
            count = min(MEMORY_CHUNK_JOBS, ctx.memory_jobs - start)
            ctx.enqueue(system, output, "memory", "bulk", count, first=start)
        output.wait_for(ctx.memory_jobs, _drain_timeout(ctx.memory_jobs), worker.alive)
        time.sleep(IDLE_SETTLE_SECONDS)
        after_all = worker.rss_mb()
        peak = worker.peak_rss_mb()
    finally:
        worker.stop()
    return {
        "idle_rss_mb": idle,
        "first_jobs": first,
        "rss_after_first_mb": after_first,
        "jobs": ctx.memory_jobs,
        "rss_after_all_mb": after_all,
        "peak_rss_mb": peak,
        "growth_percent": (after_all / after_first - 1) * 100,
    }


PHASE_FUNCTIONS = {
    "throughput": throughput,
    "enqueue": enqueue,
    "latency": latency,
    "schedule": schedule,
    "memory": memory,
}
