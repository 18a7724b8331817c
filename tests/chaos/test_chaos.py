"""Chaos: workers killed, frozen and cut off from a restarting Redis; no job may be lost.

Every job records its token and the PID that ran it. At the end every token
must have run at least once, and a token that ran twice must have run once
in a process that was killed or frozen while it held the job.
"""

from __future__ import annotations

import collections
import random
import signal
import time

import pytest

import roadie
from roadie.storage.embedded import EmbeddedRedis

# Fast heartbeats and a short recovery timeout keep the frozen-worker case short.
FAST = {"ROADIE_HEARTBEAT_INTERVAL": "1", "ROADIE_RECOVERY_TIMEOUT": "3"}


def _chaos_tokens(run) -> collections.Counter[int]:
    return collections.Counter(line[1] for line in run.lines() if line[0] == "chaos")


def _wait_until(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _redis_summary(url: str) -> dict[str, object]:
    """Where the jobs are, for the failure message of a stalled run."""
    import redis

    connection = redis.Redis.from_url(url)
    try:
        summary: dict[str, object] = {}
        for key in connection.scan_iter("*"):
            kind = connection.type(key).decode()
            size = {"list": connection.llen, "zset": connection.zcard, "set": connection.scard,
                    "hash": connection.hlen}.get(kind)
            summary[key.decode()] = (kind, size(key) if size else None)
        return summary
    finally:
        connection.close()


def _run_chaos(start_worker, worker_jobs, tmp_path, *, jobs: int, kills: int, seed: int) -> None:
    rng = random.Random(seed)
    server = EmbeddedRedis(appendonly=True, directory=str(tmp_path / "redis"),
                           extra_args=("--appendfsync", "always"))
    server.start()
    try:
        with roadie.Client(server.url) as client:
            worker_jobs.chaos.set(client=client).perform_bulk([[token] for token in range(jobs)])

        workers = [start_worker("-c", "5", "-l", "warning", env=FAST, url=server.url) for _ in range(2)]
        victims: set[int] = set()
        # Every worker appends to the same file; read it through the first run.
        probe = workers[0]

        def executed() -> int:
            return len(_chaos_tokens(probe))

        # SIGKILL a random worker several times, replacing it each time.
        for kill in range(kills):
            _wait_until(lambda: executed() >= (kill + 1) * jobs // (kills + 3), timeout=120,
                        what=f"progress before kill {kill + 1}")
            time.sleep(rng.random() * 0.05)
            victim = workers.pop(rng.randrange(len(workers)))
            victims.add(victim.process.pid)
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait(10)
            workers.append(start_worker("-c", "5", "-l", "warning", env=FAST, url=server.url))

        # Restart Redis while jobs are being fetched and acknowledged.
        _wait_until(lambda: executed() >= jobs * 2 // 3, timeout=120, what="progress before the restart")
        server.restart(downtime=2.0)

        # Freeze one worker beyond the recovery timeout, then let it go on.
        frozen = workers[0]
        victims.add(frozen.process.pid)
        frozen.process.send_signal(signal.SIGSTOP)
        time.sleep(5)
        frozen.process.send_signal(signal.SIGCONT)

        _wait_until(lambda: executed() == jobs, timeout=180,
                    what=f"all {jobs} tokens to run; Redis holds {_redis_summary(server.url)}")
        for worker in workers:
            worker.stop()
        # Waiters block on Redis at all times, so a worker running through the
        # 2 s outage logs it. A worker that was still booting logs its wait instead.
        logs = "\n".join(worker.output() for worker in workers)
        assert "Redis is reachable again" in logs, logs
    finally:
        server.stop()

    counts = _chaos_tokens(probe)
    missing = set(range(jobs)) - set(counts)
    assert not missing, f"{len(missing)} jobs lost, e.g. {sorted(missing)[:10]}"

    runs_by_token: dict[int, list[int]] = collections.defaultdict(list)
    for line in probe.lines():
        if line[0] == "chaos":
            runs_by_token[line[1]].append(line[2])
    duplicates = {token: pids for token, pids in runs_by_token.items() if len(pids) > 1}
    unexplained = {token: pids for token, pids in duplicates.items() if not victims.intersection(pids)}
    print(f"chaos: {jobs} jobs, {kills} kills, 1 Redis restart, 1 freeze; "
          f"{len(duplicates)} duplicates, all from killed or frozen workers: {not unexplained}")
    assert not unexplained, f"duplicates not explained by a kill or freeze: {unexplained}"


@pytest.mark.timeout(300)
def test_chaos_loses_no_job(start_worker, worker_jobs, tmp_path) -> None:
    _run_chaos(start_worker, worker_jobs, tmp_path, jobs=3000, kills=3, seed=1)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_chaos_long_run(start_worker, worker_jobs, tmp_path) -> None:
    _run_chaos(start_worker, worker_jobs, tmp_path, jobs=30_000, kills=10, seed=2)
