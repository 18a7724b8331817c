"""Run fetched jobs: sync jobs on a pool of threads, ``async def`` jobs on one event loop.

Both paths share :class:`JobRunner`, which resolves the job, runs it inside
the server middleware, logs start, done and fail, and hands the outcome to
the acker.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from roadie import activejob, middleware, payload
from roadie._time import now
from roadie.errors import PayloadError, Shutdown, UnknownJobError
from roadie.worker.acker import Acker
from roadie.worker.metrics import Metrics
from roadie.worker.retrier import Outcome, Retrier
from roadie.worker.stats import Counters
from roadie.worker.unit import WorkUnit

__all__ = ["AsyncProcessors", "JobRunner", "ThreadProcessors", "invalid_payload_entry"]

logger = logging.getLogger("roadie.job")
internal_logger = logging.getLogger(__name__)

# The class name given to dead-set entries made from payloads that could not
# be decoded; the original text is kept in args[0].
INVALID_PAYLOAD_CLASS = "roadie.InvalidPayload"


def invalid_payload_entry(raw: bytes, queue_name: str, reason: str) -> dict[str, Any]:
    """Wrap a payload that cannot be decoded into a dead-set entry that keeps it and the reason.

    The original bytes are kept as text in ``args[0]`` (invalid UTF-8 replaced)
    and exactly in ``raw_base64``.
    """
    current = now()
    return {
        "class": INVALID_PAYLOAD_CLASS,
        "args": [raw.decode("utf-8", "replace")],
        "raw_base64": base64.b64encode(raw).decode("ascii"),
        "jid": payload.new_jid(),
        "queue": queue_name,
        "retry": False,
        "created_at": current,
        "failed_at": current,
        "retry_count": 0,
        "error_class": payload.describe_error_class(PayloadError()),
        "error_message": reason[: payload.ERROR_MESSAGE_MAX_CHARS],
    }


class JobRunner:
    """Runs one unit from start to acknowledgement. Shared by thread and async processors."""

    def __init__(
        self,
        lookup: Callable[[str], Any],
        retrier: Retrier,
        acker: Acker,
        counters: Counters,
        on_done: Callable[[WorkUnit], None],
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._lookup = lookup
        self._retrier = retrier
        self._acker = acker
        self._counters = counters
        self._on_done = on_done

    def prepare(self, unit: WorkUnit) -> None:
        """Decode the unit's payload and find its job function, once, before it is dispatched.

        Sets ``unit.job``, ``unit.arguments`` and ``unit.function``, or
        ``unit.error`` when the payload cannot be decoded or names no job.
        """
        try:
            unit.job = payload.decode(unit.raw)
        except PayloadError as exc:
            unit.error = exc
            return
        unit.function = self._resolve(unit)

    def _resolve(self, unit: WorkUnit) -> Any:
        assert unit.job is not None
        rails = activejob.unwrap(unit.job)
        if rails is not None:
            name, args, kwargs = rails
        else:
            name = unit.job["class"]
            args, kwargs = unit.job["args"], unit.job.get("kwargs") or {}
        unit.arguments = (args, kwargs)
        job_function = self._lookup(name)
        if job_function is None:
            unit.error = UnknownJobError(
                f"no job named {name!r} is registered in this worker; "
                "import the module that defines it with -r/--require"
            )
        return job_function

    # ------------------------------------------------------------------ sync

    def run_sync(self, unit: WorkUnit) -> None:
        if not self._begin(unit):
            return
        job_function = unit.function
        error: BaseException | None = unit.error
        if error is None:
            job, args, kwargs = self._call_parts(unit)
            try:
                middleware.server_middleware.invoke(
                    (job_function, job, unit.queue),
                    lambda: job_function.fn(*args, **kwargs),
                )
            except Shutdown:
                self._log_interrupted(unit, time.monotonic() - unit.run_started)
                self._on_done(unit)
                return
            except BaseException as exc:  # noqa: BLE001 - a job's SystemExit or KeyboardInterrupt is a failure too
                error = exc
        self._complete(unit, job_function, error, time.monotonic() - unit.run_started)

    # ----------------------------------------------------------------- async

    async def run_async(self, unit: WorkUnit) -> None:
        if not self._begin(unit):
            return
        job_function = unit.function
        error: BaseException | None = unit.error
        if error is None:
            job, args, kwargs = self._call_parts(unit)
            try:
                await middleware.server_middleware.invoke_async(
                    (job_function, job, unit.queue),
                    lambda: job_function.fn(*args, **kwargs),
                )
            except asyncio.CancelledError:
                if unit.state.value == "requeued":
                    self._log_interrupted(unit, time.monotonic() - unit.run_started)
                    self._on_done(unit)
                    return
                error = RuntimeError("the job's task was cancelled")
            except Shutdown:
                self._log_interrupted(unit, time.monotonic() - unit.run_started)
                self._on_done(unit)
                return
            except BaseException as exc:  # noqa: BLE001 - see run_sync
                error = exc
        self._complete(unit, job_function, error, time.monotonic() - unit.run_started)

    # ----------------------------------------------------------------- shared

    def _begin(self, unit: WorkUnit) -> bool:
        """Mark ``unit`` running and log its start; False, with its slot freed, when shutdown requeued it first."""
        if not unit.start():
            self._on_done(unit)
            return False
        unit.thread_id = threading.get_ident()
        unit.started_at = now()
        self._log_start(unit)
        return True

    @staticmethod
    def _call_parts(unit: WorkUnit) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
        """Return the job hash and the arguments that prepare() resolved for a unit without an error."""
        assert unit.job is not None
        assert unit.function is not None
        assert unit.arguments is not None
        args, kwargs = unit.arguments
        return unit.job, args, kwargs

    # --------------------------------------------------------------- outcome

    def _complete(self, unit: WorkUnit, job_function: Any, error: BaseException | None, elapsed: float) -> None:
        try:
            if not unit.finish():
                # Shutdown pushed the job back while it ran; the copy in the queue is the one that counts.
                self._log_interrupted(unit, elapsed)
                return
            if self._metrics is not None:
                self._metrics.track(unit.name, elapsed, failed=error is not None)
            if error is None:
                self._counters.record(failed=False)
                self._log_done(unit, elapsed)
                self._acker.ack(unit, None)
                return
            self._counters.record(failed=True)
            outcome = self._failure_outcome(unit, job_function, error)
            self._log_fail(unit, elapsed, error, outcome)
            middleware.call_error_handlers(error, {"job": unit.job, "queue": unit.queue, "jid": unit.jid})
            if outcome.died:
                middleware.call_death_handlers(outcome.job, error)
            self._acker.ack(unit, outcome)
        finally:
            self._on_done(unit)

    def _failure_outcome(self, unit: WorkUnit, job_function: Any, error: BaseException) -> Outcome:
        if unit.job is None or (isinstance(error, PayloadError) and not isinstance(error, UnknownJobError)):
            return Outcome("dead", invalid_payload_entry(unit.raw, unit.queue, str(error)), score=now(),
                           reason="invalid payload", died=True)
        return self._retrier.outcome(unit.job, unit.queue, error, job_function)

    # ------------------------------------------------------------------ logs

    @staticmethod
    def _extra(unit: WorkUnit) -> dict[str, Any]:
        return {"job": unit.name, "jid": unit.jid}

    def _log_start(self, unit: WorkUnit) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("start", extra=self._extra(unit))

    def _log_done(self, unit: WorkUnit, elapsed: float) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("done: %.3f s", elapsed, extra={**self._extra(unit), "elapsed": round(elapsed, 3)})

    def _log_fail(self, unit: WorkUnit, elapsed: float, error: BaseException, outcome: Outcome) -> None:
        where = {"retry": "retry scheduled", "dead": "moved to the dead set", "drop": "dropped"}[outcome.kind]
        if outcome.reason:
            where += f" ({outcome.reason})"
        logger.warning(
            "fail: %.3f s: %s: %s; %s",
            elapsed, payload.describe_error_class(error), payload.safe_error_message(error)[:500], where,
            extra={**self._extra(unit), "elapsed": round(elapsed, 3)},
            exc_info=error if logger.isEnabledFor(logging.DEBUG) else None,
        )

    def _log_interrupted(self, unit: WorkUnit, elapsed: float) -> None:
        logger.warning("interrupted by shutdown after %.3f s; the job is back in its queue", elapsed,
                       extra=self._extra(unit))


class ThreadProcessors:
    """``concurrency`` threads named ``roadie.processor-N`` that run sync jobs from a local queue."""

    def __init__(self, runner: JobRunner, concurrency: int) -> None:
        self._runner = runner
        self._work: queue.SimpleQueue[WorkUnit | None] = queue.SimpleQueue()
        self._threads = [
            # Daemon threads: a job stuck in C code after the shutdown timeout
            # must not keep the process alive; its job is already requeued.
            threading.Thread(target=self._run, name=f"roadie.processor-{index + 1}", daemon=True)
            for index in range(concurrency)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, unit: WorkUnit) -> None:
        self._work.put(unit)

    def stop(self) -> None:
        """Ask every thread to exit once the local queue is empty."""
        for _ in self._threads:
            self._work.put(None)

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self._threads)

    def _run(self) -> None:
        try:
            while True:
                unit = self._work.get()
                if unit is None:
                    return
                self._runner.run_sync(unit)
        except Shutdown:
            return
        except Exception:
            internal_logger.exception("processor thread crashed; its job stays in progress until recovery")


class AsyncProcessors:
    """One thread, ``roadie.asyncio``, running an event loop for ``async def`` jobs, at most ``slots`` at once.

    Jobs beyond ``slots`` wait for a free slot as pending units, so shutdown
    can push them back before they start.
    """

    def __init__(self, runner: JobRunner, slots: int) -> None:
        self._runner = runner
        self._slots = slots
        self._free: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._run, name="roadie.asyncio", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(10)

    def submit(self, unit: WorkUnit) -> None:
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._spawn, unit)

    def cancel(self, unit: WorkUnit) -> None:
        """Cancel the task running ``unit``; called at shutdown after the job was requeued."""
        if self._loop is not None and unit.task is not None:
            self._loop.call_soon_threadsafe(unit.task.cancel)

    def stop(self, timeout: float) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)

    def _spawn(self, unit: WorkUnit) -> None:
        task = asyncio.ensure_future(self._run_when_free(unit))
        unit.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_when_free(self, unit: WorkUnit) -> None:
        assert self._free is not None
        async with self._free:
            await self._runner.run_async(unit)

    def _run(self) -> None:
        try:
            import uvloop  # type: ignore[import-not-found]

            loop = uvloop.new_event_loop()
        except ImportError:
            loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._free = asyncio.Semaphore(self._slots)
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            for task in list(self._tasks):
                task.cancel()
            loop.run_until_complete(asyncio.gather(*self._tasks, return_exceptions=True))
            loop.close()
