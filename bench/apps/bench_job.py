"""The body of the no-op job that every Python system runs in the benchmarks.

Each run appends one line, ``"<n> <epoch seconds at job start>\\n"``, to the
file named by ``BENCH_OUTPUT`` with a single ``os.write`` on an ``O_APPEND``
descriptor, so lines from threads and forked children never interleave. The
driver counts the lines to see completion and reads the times for latency.
The Ruby job in ``sidekiq_app.rb`` writes the same line the same way.
"""

from __future__ import annotations

import os
import time

# Opened at import, so forked children (Celery prefork, RQ) inherit it.
_FD = os.open(os.environ["BENCH_OUTPUT"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def record(n: int) -> None:
    """Append ``n`` and the current time as one line to the output file."""
    started = time.time()
    os.write(_FD, b"%d %.6f\n" % (n, started))
