"""Decide what happens to a failed job: retry it later, move it to the dead set, or drop it.

The decision follows Sidekiq's rules (see :mod:`roadie.retry`), and the job
hash gains Sidekiq's error fields, so either side can retry the other's jobs.
"""

from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from typing import Any, Literal

from roadie import payload, retry
from roadie._time import now
from roadie.config import Settings
from roadie.errors import Discard, Retry

__all__ = ["Outcome", "Retrier"]

logger = logging.getLogger(__name__)


@dataclass
class Outcome:
    """The destination of a failed job: ``retry`` or ``dead`` at ``score``, or ``drop``."""

    kind: Literal["retry", "dead", "drop"]
    job: dict[str, Any]
    score: float = 0.0
    # Why the job is dropped or dead, for the log line.
    reason: str = ""
    # True when death handlers must run (exhausted, killed or discarded).
    died: bool = False


class Retrier:
    """Turns a failure into an :class:`Outcome`. Stateless apart from the settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def outcome(self, job: dict[str, Any], queue: str, exc: BaseException, job_function: Any = None) -> Outcome:
        """Return the outcome of ``job``'s failure with ``exc``; ``job`` itself is not changed."""
        failed = dict(job)
        current = now()

        retry_value = failed.get("retry")
        if "retry" not in failed and job_function is not None:
            # A hash pushed without `retry` takes the job's own option.
            retry_value = job_function.options.get("retry", True)
        if isinstance(exc, Discard):
            self._add_error_fields(failed, queue, exc, current)
            failed["discarded_at"] = current
            return Outcome("drop", failed, reason="discarded by the job", died=True)

        max_retries = retry.max_retries_for(retry_value, self.settings.max_retries)
        if max_retries is None:
            return Outcome("drop", failed, reason="retry is disabled for this job")

        count = self._add_error_fields(failed, queue, exc, current)

        delay: float | None = None
        jitter = True
        kill = False
        if isinstance(exc, Retry) and exc.in_ is not None:
            # The job asked for this exact delay, so no jitter is added.
            delay = float(exc.in_)
            jitter = False
        else:
            custom = self._custom_delay(job_function, count, exc, failed)
            if custom == "discard":
                failed["discarded_at"] = current
                return Outcome("drop", failed, reason="discarded by retry_in", died=True)
            if custom == "kill":
                kill = True
            elif isinstance(custom, (int, float)):
                delay = float(custom)

        if kill or retry.retries_exhausted(failed, count, max_retries, current):
            return self._exhausted(failed, exc, job_function, current, "killed by retry_in" if kill else "")

        if delay is None:
            delay = retry.backoff_seconds(count)
        score = current + delay + (retry.jitter_seconds(count) if jitter else 0.0)
        return Outcome("retry", failed, score=score)

    def _add_error_fields(self, failed: dict[str, Any], queue: str, exc: BaseException, current: float) -> int:
        """Set Sidekiq's error fields on ``failed`` and return its retry_count."""
        failed["queue"] = failed.get("retry_queue") or queue
        failed["error_message"] = payload.safe_error_message(exc)
        failed["error_class"] = payload.describe_error_class(exc)
        previous = failed.get("retry_count")
        if isinstance(previous, int) and not isinstance(previous, bool):
            count = previous + 1
            failed["retried_at"] = current
        else:
            count = 0
            failed["failed_at"] = current
        failed["retry_count"] = count

        backtrace = failed.get("backtrace")
        if backtrace:
            lines = [line.rstrip("\n") for line in traceback.format_exception(exc)]
            if isinstance(backtrace, int) and not isinstance(backtrace, bool):
                lines = lines[:backtrace]
            failed["error_backtrace"] = payload.encode_backtrace(lines)
        return count

    def _custom_delay(self, job_function: Any, count: int, exc: BaseException, job: dict[str, Any]) -> Any:
        hook = getattr(job_function, "retry_in_hook", None)
        if hook is None:
            return None
        try:
            result = hook(count, exc, job)
        except Exception:
            # As in Sidekiq, a failing retry_in falls back to the default delay.
            logger.exception("retry_in of job %s raised; using the default delay", job.get("class"))
            return None
        if result in ("discard", "kill"):
            return result
        if isinstance(result, (int, float)) and not isinstance(result, bool) and result >= 0:
            return result
        return None

    def _exhausted(
        self, failed: dict[str, Any], exc: BaseException, job_function: Any, current: float, reason: str
    ) -> Outcome:
        hook = getattr(job_function, "exhausted_hook", None)
        discard = failed.get("dead") is False
        if hook is not None:
            try:
                if hook(failed, exc) == "discard":
                    discard = True
            except Exception:
                logger.exception("retries_exhausted of job %s raised", failed.get("class"))
        if discard:
            failed["discarded_at"] = current
            return Outcome("drop", failed, reason="retries exhausted and dead=False", died=True)
        return Outcome("dead", failed, score=current, reason=reason or "retries exhausted", died=True)
