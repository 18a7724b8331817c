"""Tests that a testing mode stays within the thread or asyncio task that entered it."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any

import roadie
import roadie.testing


@roadie.job(name="isolation.Record")
def record(value: Any) -> None:
    pass


def test_threads_capture_separately() -> None:
    both_enqueued = threading.Barrier(2, timeout=10)
    seen: dict[str, list[list[Any]]] = {}

    def run(name: str) -> None:
        with roadie.testing.fake():
            record.perform_async(name)
            both_enqueued.wait()
            seen[name] = [job["args"] for job in record.jobs]

    threads = [threading.Thread(target=run, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert seen == {"first": [["first"]], "second": [["second"]]}


def test_new_thread_has_no_mode() -> None:
    outcome: dict[str, str] = {}

    def read_jobs() -> None:
        try:
            record.jobs  # noqa: B018 - the property read is the test
            outcome["result"] = "jobs visible"
        except RuntimeError:
            outcome["result"] = "no mode"

    with roadie.testing.fake():
        record.perform_async(1)
        thread = threading.Thread(target=read_jobs)
        thread.start()
        thread.join(10)

    assert outcome == {"result": "no mode"}


def test_copied_context_carries_mode() -> None:
    with roadie.testing.fake():
        context = contextvars.copy_context()
        thread = threading.Thread(target=context.run, args=(record.perform_async, "from thread"))
        thread.start()
        thread.join(10)

        assert [job["args"] for job in record.jobs] == [["from thread"]]


def test_tasks_capture_separately() -> None:
    async def run(name: str, both_enqueued: asyncio.Event, count: list[int]) -> list[list[Any]]:
        with roadie.testing.fake():
            await record.aperform_async(name)
            count.append(1)
            if len(count) == 2:
                both_enqueued.set()
            await both_enqueued.wait()
            return [job["args"] for job in record.jobs]

    async def main() -> list[list[list[Any]]]:
        both_enqueued = asyncio.Event()
        count: list[int] = []
        return await asyncio.gather(run("first", both_enqueued, count), run("second", both_enqueued, count))

    first, second = asyncio.run(main())

    assert first == [["first"]]
    assert second == [["second"]]


def test_task_mode_not_leaking_out() -> None:
    async def enter_fake() -> None:
        roadie.testing.fake().__enter__()
        await record.aperform_async("inside task")

    async def main() -> bool:
        await asyncio.create_task(enter_fake())
        try:
            roadie.testing.jobs()
        except RuntimeError:
            return False
        return True

    assert asyncio.run(main()) is False


def test_child_task_inherits_mode() -> None:
    async def main() -> list[list[Any]]:
        with roadie.testing.fake():
            await asyncio.create_task(record.aperform_async("child"))
            return [job["args"] for job in record.jobs]

    assert asyncio.run(main()) == [["child"]]
