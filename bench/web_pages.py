"""Time each dashboard page with large sets: render time stays flat because pages read only what they show.

    .venv/bin/python bench/web_pages.py [--jobs 100000] [--requests 20]

Starts a private Redis server and writes ``--jobs`` jobs into ``queue:default``
and into each of the retry, dead and scheduled sets. Then it requests every
page ``--requests`` times through Starlette's TestClient (in process, no
network) and prints the median and 95th-percentile time per page as a
Markdown table.
The ``substr`` filter rows show the three cases of a filtered list: a rare
match, a common one on a 1,000-row page, and text that matches nothing, where
the page stops at its time budget and offers to search further.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from starlette.testclient import TestClient  # noqa: E402 - needs the path above

from roadie import payload  # noqa: E402
from roadie._version import __version__  # noqa: E402
from roadie.storage.embedded import EmbeddedRedis  # noqa: E402
from roadie.web import create_app  # noqa: E402

SEED_BATCH = 10_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time dashboard pages against large queues and sets.")
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs in the queue and in each set [100000]")
    parser.add_argument("--requests", type=int, default=20, help="requests per page; the median is reported [20]")
    return parser.parse_args()


def job_hash(index: int, now: float) -> dict[str, object]:
    return {
        "class": ("InvoiceMailer", "ImageResizer", "SyncInventory")[index % 3],
        "args": [index, f"customer-{index % 977}", {"attempt": index % 5}],
        "jid": payload.new_jid(),
        "queue": "default",
        "retry": True,
        "created_at": now - 3600,
        "enqueued_at": now - 3600 + index / 1000,
        "error_class": "RuntimeError",
        "error_message": f"upstream timed out after {index % 60} s",
        "failed_at": now - 1800,
        "retry_count": index % 25,
        "error_backtrace": payload.encode_backtrace([f"app/jobs.py:{index % 300}:in `perform'"]),
    }


def seed(connection, jobs: int) -> str:
    """Write the jobs; return the detail-page key of one retry entry."""
    now = time.time()
    connection.sadd("queues", "default")
    detail_key = ""
    for start in range(0, jobs, SEED_BATCH):
        with connection.pipeline(transaction=False) as pipe:
            queue_items, retries, dead, scheduled = [], {}, {}, {}
            for index in range(start, min(jobs, start + SEED_BATCH)):
                raw = payload.dumps(job_hash(index, now))
                queue_items.append(raw)
                retries[raw] = now + index
                dead[raw] = now - index
                scheduled[raw] = now + 60 + index
                if index == jobs // 2:
                    detail_key = quote(f"{now + index!r}-{payload.decode(raw)['jid']}", safe="")
            pipe.lpush("queue:default", *queue_items)
            pipe.zadd("retry", retries)
            pipe.zadd("dead", dead)
            pipe.zadd("schedule", scheduled)
            pipe.execute()
    return detail_key


def measure(http: TestClient, path: str, requests: int) -> tuple[float, float]:
    """Return the median and 95th percentile of ``requests`` GETs of ``path``, in milliseconds."""
    response = http.get(path)
    if response.status_code != 200:
        raise SystemExit(f"{path} returned {response.status_code}: {response.text[:300]}")
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        http.get(path)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[max(0, int(len(timings) * 0.95) - 1)]


def main() -> None:
    args = parse_args()
    with EmbeddedRedis() as server:
        import redis

        connection = redis.Redis.from_url(server.url)
        started = time.perf_counter()
        detail_key = seed(connection, args.jobs)
        seeded = time.perf_counter() - started
        last_page = max(1, -(-args.jobs // 25))
        pages = [
            ("/", "dashboard"),
            ("/stats", "stats JSON"),
            ("/queues", "queues"),
            ("/queues/default", "queue, first page"),
            (f"/queues/default?page={last_page}", "queue, last page"),
            ("/queues/default?direction=asc", "queue, oldest first"),
            ("/retries", "retries, first page"),
            (f"/retries?page={last_page // 2}", "retries, middle page"),
            (f"/retries/{detail_key}", "retry detail"),
            ("/scheduled", "scheduled, first page"),
            ("/morgue", "dead, first page"),
            (f"/morgue?page={last_page}", "dead, last page"),
            ("/retries?count=1000", "retries, 1000 rows"),
            ("/busy", "busy"),
            ("/morgue?substr=customer-976", "dead, filter matching 1 job in 977"),
            ("/morgue?substr=ImageResizer&count=1000", "dead, filter, 1000 matching rows"),
            ("/morgue?substr=no-such-text", "dead, filter matching nothing"),
        ]
        with TestClient(create_app(server.url)) as http:
            rows = [(label, path, *measure(http, path, args.requests)) for path, label in pages]
        connection.close()

    print(f"roadie {__version__} dashboard, {args.jobs:,} jobs in the queue and in each of the retry, dead and "
          f"scheduled sets (seeded in {seeded:.1f} s); Redis {server.version}; Python {platform.python_version()} "
          f"on {platform.machine()} {platform.system()}; {args.requests} requests per page via TestClient.\n")
    print("| page | path | median ms | p95 ms |")
    print("| --- | --- | ---: | ---: |")
    for label, path, median, p95 in rows:
        print(f"| {label} | `{path if len(path) < 60 else path[:57] + '...'}` | {median:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
