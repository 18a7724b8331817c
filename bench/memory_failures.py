"""Measure a worker's RSS while it drains a long stream of failing jobs.

Each job raises, with retry=False so the stream does not grow the retry set;
the worker still builds the error fields, runs the error handlers and logs
each failure. RSS is read from /proc after 10% of the jobs and at the end.

Run: .venv/bin/python bench/memory_failures.py [--jobs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

import roadie
from roadie.storage.embedded import EmbeddedRedis

JOBS = '''
import roadie

@roadie.job(name="AlwaysFails", retry=False)
def always_fails(index):
    raise ValueError(f"failure number {index} " + "x" * 200)
'''


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="roadie-memory-"))
    (folder / "failingjobs.py").write_text(JOBS, encoding="utf-8")
    with EmbeddedRedis() as server:
        connection = redis.Redis.from_url(server.url)
        with roadie.Client(server.url) as client:
            for start in range(0, args.jobs, 10_000):
                client.push_bulk({"class": "AlwaysFails", "args": [[index] for index in
                                                                    range(start, min(start + 10_000, args.jobs))]})
        environment = {**{k: v for k, v in os.environ.items() if not k.startswith("ROADIE_")},
                       "PYTHONPATH": str(folder)}
        worker = subprocess.Popen(
            [sys.executable, "-m", "roadie", "worker", "--redis-url", server.url, "-r", "failingjobs",
             "-c", "10", "-l", "error"],
            cwd=folder, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        early = None
        try:
            while True:
                left = connection.llen("queue:default")
                if early is None and left <= args.jobs * 0.9:
                    early = rss_mib(worker.pid)
                if left == 0:
                    break
                time.sleep(0.05)
            time.sleep(1.0)
            late = rss_mib(worker.pid)
        finally:
            worker.terminate()
            worker.wait(30)
        elapsed = time.monotonic() - started
        print(f"{args.jobs} failing jobs in {elapsed:.1f} s; RSS after 10%: {early:.1f} MiB, "
              f"at the end: {late:.1f} MiB ({(late - early) / early * 100:+.1f} %)")


if __name__ == "__main__":
    main()
