"""Measure how long a SIGKILLed worker's job takes to return to its queue.

Three cases, with the default settings (heartbeat every 5 s, recovery_timeout 30 s):
- other host: the killed worker ran on another host (simulated with $DYNO,
  which sets the host name in its identity), so a survivor must wait for the
  heartbeat to go stale;
- same host: a survivor on the same host finds that the PID is gone;
- replacement: a new worker starts right after the kill and takes the job back at boot.

Run: python bench/recovery.py [--runs N]   (uses roadie's .venv python)
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

import roadie
from roadie.storage.embedded import EmbeddedRedis

JOBS = '''
import time
import roadie

@roadie.job(name="Hold")
def hold(seconds):
    time.sleep(seconds)
'''


def start_worker(folder: Path, url: str, queue: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("ROADIE_")}
    environment.update({"PYTHONPATH": str(folder), **(env or {})})
    command = [sys.executable, "-m", "roadie", "worker", "--redis-url", url, "-r", "recoveryjobs", "-q", queue,
               "-l", "warning"]
    return subprocess.Popen(command, cwd=folder, env=environment, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait(predicate, timeout: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.02)


def one_run(folder: Path, url: str, case: str, index: int) -> float:
    connection = redis.Redis.from_url(url)
    queue = f"victim{index}"
    queue_key = f"queue:{queue}"
    env = {"DYNO": f"otherhost{index}"} if case == "other host" else {}
    victim = start_worker(folder, url, queue, env)
    with roadie.Client(url) as client:
        client.push({"class": "Hold", "args": [120], "queue": queue})
    wait(lambda: connection.llen(queue_key) == 0, 30)
    time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed = time.monotonic()
    replacement = start_worker(folder, url, "unrelated") if case == "replacement" else None
    try:
        wait(lambda: connection.llen(queue_key) == 1, 120)
        return time.monotonic() - killed
    finally:
        if replacement is not None:
            replacement.terminate()
            replacement.wait()
        connection.delete(queue_key)
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="kills per case")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="roadie-recovery-"))
    (folder / "recoveryjobs.py").write_text(JOBS, encoding="utf-8")
    with EmbeddedRedis() as server:
        survivor = start_worker(folder, server.url, "unrelated")
        try:
            for case in ("replacement", "same host", "other host"):
                times = [one_run(folder, server.url, case, index) for index in range(args.runs)]
                print(f"{case:12s} runs {len(times)}  p50 {statistics.median(times):6.2f} s  "
                      f"max {max(times):6.2f} s", flush=True)
        finally:
            survivor.terminate()
            survivor.wait()


if __name__ == "__main__":
    main()
