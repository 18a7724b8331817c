"""Enqueue jobs for one system and print what was measured as one JSON line.

Usage: ``python bench_enqueue.py APP MODE --jobs N [--first K] [--queue NAME]``,
run with the ``apps`` folder as the working directory. ``APP`` is a module
here (``roadie_app``, ``celery_app``, ...) that defines:

* ``bulk(numbers, queue)``: enqueue one job per number with the system's
  fastest documented bulk path;
* ``single(n, queue)``: enqueue one job with the ordinary one-job call;
* optionally ``at(n, when, queue)``: enqueue one job to run at epoch ``when``;
* optionally ``setup()`` and ``close()``.

Any of them may be ``async def``. Modes: ``bulk`` and ``single`` time N
enqueues; ``spaced`` sends N single jobs 20 ms apart and reports the time
before each push; ``schedule`` does the same with jobs due 1 s after the push.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import json
import time
from typing import Any

SPACING_SECONDS = 0.020
SCHEDULE_AHEAD_SECONDS = 1.0


async def _call(function: Any, *args: Any) -> Any:
    result = function(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _spaced(app: Any, args: argparse.Namespace, ahead: float | None) -> dict[str, Any]:
    pushes = []
    started = time.monotonic()
    for index in range(args.jobs):
        delay = started + index * SPACING_SECONDS - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n = args.first + index
        pushed_at = time.time()
        if ahead is None:
            await _call(app.single, n, args.queue)
            pushes.append([n, pushed_at, None])
        else:
            due = pushed_at + ahead
            await _call(app.at, n, due, args.queue)
            pushes.append([n, pushed_at, due])
    return {"pushes": pushes}


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    app = importlib.import_module(args.app)
    if hasattr(app, "setup"):
        await _call(app.setup)
    try:
        numbers = range(args.first, args.first + args.jobs)
        if args.mode == "bulk":
            started = time.perf_counter()
            await _call(app.bulk, numbers, args.queue)
            return {"jobs": args.jobs, "seconds": time.perf_counter() - started}
        if args.mode == "single":
            started = time.perf_counter()
            for n in numbers:
                await _call(app.single, n, args.queue)
            return {"jobs": args.jobs, "seconds": time.perf_counter() - started}
        if args.mode == "spaced":
            return await _spaced(app, args, None)
        return await _spaced(app, args, SCHEDULE_AHEAD_SECONDS)
    finally:
        if hasattr(app, "close"):
            await _call(app.close)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("app", help="module in this folder, such as roadie_app")
    parser.add_argument("mode", choices=("bulk", "single", "spaced", "schedule"))
    parser.add_argument("--jobs", type=int, required=True, help="number of jobs to enqueue")
    parser.add_argument("--first", type=int, default=0, help="number passed to the first job")
    parser.add_argument("--queue", default=None, help="queue name, for systems that take one")
    print(json.dumps(asyncio.run(_main(parser.parse_args()))), flush=True)


if __name__ == "__main__":
    main()
