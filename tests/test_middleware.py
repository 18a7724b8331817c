"""Tests for middleware chains and the error and death handler hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest

from roadie import middleware
from roadie.middleware import Chain, call_death_handlers, call_error_handlers


class Recorder:
    """A middleware that records its label before and after the rest of the chain."""

    def __init__(self, label: str, log: list[str]) -> None:
        self.label = label
        self.log = log

    def __call__(self, job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        self.log.append(f"{self.label}:before")
        result = call_next()
        self.log.append(f"{self.label}:after")
        return result


class OtherRecorder(Recorder):
    pass


class AsyncRecorder(Recorder):
    async def __call__(self, job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:  # type: ignore[override]
        self.log.append(f"{self.label}:before")
        result = await call_next()
        self.log.append(f"{self.label}:after")
        return result


def run(chain: Chain, log: list[str], result: Any = "done") -> Any:
    def final() -> Any:
        log.append("final")
        return result

    return chain.invoke(({"class": "A"}, "default"), final)


def labels(chain: Chain) -> list[str]:
    return [entry.label for entry in chain]


# -------------------------------------------------------------------- order


def test_invoke_empty_chain() -> None:
    assert Chain().invoke((), lambda: 42) == 42


def test_invoke_runs_in_order() -> None:
    log: list[str] = []
    chain = Chain([Recorder("a", log), Recorder("b", log)])

    result = run(chain, log)

    assert result == "done"
    assert log == ["a:before", "b:before", "final", "b:after", "a:after"]


def test_middleware_gets_chain_args() -> None:
    seen: list[tuple[Any, ...]] = []

    def spy(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        seen.append((job, queue))
        return call_next()

    Chain([spy]).invoke(({"class": "A"}, "low"), lambda: None)

    assert seen == [({"class": "A"}, "low")]


def test_middleware_stops_chain() -> None:
    log: list[str] = []

    def stop(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> None:
        log.append("stop")
        return None

    chain = Chain([Recorder("a", log), stop, Recorder("b", log)])

    assert run(chain, log) is None
    assert log == ["a:before", "stop", "a:after"]


def test_middleware_exception_propagates() -> None:
    def explode(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        raise RuntimeError("middleware failed")

    with pytest.raises(RuntimeError, match="middleware failed"):
        Chain([explode]).invoke(({}, "q"), lambda: None)


# ----------------------------------------------------------------- editing


def test_add_appends_innermost() -> None:
    log: list[str] = []
    chain = Chain()
    chain.add(Recorder("a", log))
    chain.add(Recorder("b", log))

    assert labels(chain) == ["a", "b"]


def test_add_same_instance_once() -> None:
    entry = Recorder("a", [])
    chain = Chain()

    chain.add(entry)
    chain.add(entry)

    assert len(chain) == 1


def test_prepend_runs_outermost() -> None:
    log: list[str] = []
    b = Recorder("b", log)
    chain = Chain([Recorder("a", log), b])

    chain.prepend(b)

    assert labels(chain) == ["b", "a"]


def test_insert_before_instance() -> None:
    log: list[str] = []
    a, c = Recorder("a", log), Recorder("c", log)
    chain = Chain([a, c])

    chain.insert_before(c, Recorder("b", log))

    assert labels(chain) == ["a", "b", "c"]


def test_insert_after_instance() -> None:
    log: list[str] = []
    a, c = Recorder("a", log), Recorder("c", log)
    chain = Chain([a, c])

    chain.insert_after(a, Recorder("b", log))

    assert labels(chain) == ["a", "b", "c"]


def test_insert_by_class() -> None:
    log: list[str] = []
    chain = Chain([Recorder("a", log), OtherRecorder("c", log)])

    chain.insert_before(OtherRecorder, Recorder("b", log))
    chain.insert_after(OtherRecorder, Recorder("d", log))

    assert labels(chain) == ["a", "b", "c", "d"]


def test_insert_missing_entry_raises() -> None:
    chain = Chain([Recorder("a", [])])

    with pytest.raises(ValueError, match="not in the chain"):
        chain.insert_after(OtherRecorder, Recorder("b", []))


def test_insert_moves_existing_entry() -> None:
    log: list[str] = []
    a, b, c = Recorder("a", log), Recorder("b", log), Recorder("c", log)
    chain = Chain([a, b, c])

    chain.insert_after(c, a)

    assert labels(chain) == ["b", "c", "a"]


def test_remove_by_instance() -> None:
    log: list[str] = []
    a, b = Recorder("a", log), Recorder("b", log)
    chain = Chain([a, b])

    chain.remove(a)

    assert labels(chain) == ["b"]
    assert a not in chain


def test_remove_by_class() -> None:
    log: list[str] = []
    chain = Chain([OtherRecorder("a", log), Recorder("b", log), OtherRecorder("c", log)])

    chain.remove(OtherRecorder)

    assert labels(chain) == ["b"]
    assert OtherRecorder not in chain


def test_remove_absent_ignored() -> None:
    chain = Chain([Recorder("a", [])])

    chain.remove(OtherRecorder)

    assert len(chain) == 1


def test_contains_instance_and_class() -> None:
    entry = OtherRecorder("a", [])
    chain = Chain([entry])

    assert entry in chain
    assert Recorder in chain
    assert Recorder("other", []) not in chain


def test_clear_empties_chain() -> None:
    chain = Chain([Recorder("a", [])])

    chain.clear()

    assert len(chain) == 0


# ------------------------------------------------------------- invoke_async


def test_invoke_async_mixed_middleware() -> None:
    log: list[str] = []

    def sync_before(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        # In an async chain call_next() returns a coroutine, so a plain
        # function can act only before it and must return it unchanged.
        log.append("sync:before")
        return call_next()

    chain = Chain([sync_before, AsyncRecorder("async", log), sync_before])

    async def final() -> str:
        log.append("final")
        return "done"

    result = asyncio.run(chain.invoke_async(({"class": "A"}, "default"), final))

    assert result == "done"
    assert log == ["sync:before", "async:before", "sync:before", "final", "async:after"]


def test_invoke_async_empty_chain() -> None:
    async def final() -> int:
        return 7

    assert asyncio.run(Chain().invoke_async((), final)) == 7


def test_invoke_async_stopped_by_async() -> None:
    log: list[str] = []

    async def stop(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> None:
        log.append("stop")
        return None

    async def final() -> str:
        log.append("final")
        return "done"

    chain = Chain([AsyncRecorder("outer", log), stop])

    result = asyncio.run(chain.invoke_async(({}, "q"), final))

    assert result is None
    assert log == ["outer:before", "stop", "outer:after"]


def test_invoke_async_stopped_by_sync() -> None:
    def stop(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> None:
        return None

    async def final() -> str:
        raise AssertionError("the chain should have stopped before the final step")

    assert asyncio.run(Chain([stop]).invoke_async(({}, "q"), final)) is None


def test_invoke_async_sync_changes_job() -> None:
    def tag(job: dict[str, Any], queue: str, call_next: Callable[[], Any]) -> Any:
        job["tagged"] = True
        return call_next()

    job: dict[str, Any] = {"class": "A"}

    async def final() -> dict[str, Any]:
        return job

    result = asyncio.run(Chain([tag]).invoke_async((job, "q"), final))

    assert result == {"class": "A", "tagged": True}


# --------------------------------------------------------- handler helpers


def test_error_handlers_continue_after_raise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[tuple[str, BaseException, dict[str, Any]]] = []

    def broken(exc: BaseException, context: dict[str, Any]) -> None:
        calls.append(("broken", exc, context))
        raise RuntimeError("handler bug")

    def working(exc: BaseException, context: dict[str, Any]) -> None:
        calls.append(("working", exc, context))

    monkeypatch.setattr(middleware, "error_handlers", [broken, working])
    error = ValueError("job failed")
    context = {"jid": "abc", "queue": "default"}

    with caplog.at_level(logging.ERROR, logger="roadie.middleware"):
        call_error_handlers(error, context)

    assert [name for name, _, _ in calls] == ["broken", "working"]
    assert calls[1][1] is error
    assert calls[1][2] is context
    [record] = caplog.records
    assert "error handler" in record.getMessage()
    assert "ValueError" in record.getMessage()
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "handler bug"


def test_death_handlers_continue_after_raise(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[str] = []

    def broken(job: dict[str, Any], exc: BaseException) -> None:
        calls.append("broken")
        raise RuntimeError("handler bug")

    def working(job: dict[str, Any], exc: BaseException) -> None:
        calls.append(f"working:{job['jid']}:{exc}")

    monkeypatch.setattr(middleware, "death_handlers", [broken, working])

    with caplog.at_level(logging.ERROR, logger="roadie.middleware"):
        call_death_handlers({"jid": "abc123"}, ValueError("out of retries"))

    assert calls == ["broken", "working:abc123:out of retries"]
    [record] = caplog.records
    assert "death handler" in record.getMessage()
    assert "abc123" in record.getMessage()
    assert record.exc_info is not None

