"""Exceptions raised by roadie, and the control signals a job may raise.

Every error roadie raises derives from :class:`RoadieError`::

    RoadieError
     +-- ConfigError             invalid setting, file or environment variable
     +-- JobArgumentError        (also TypeError) arguments that cannot be enqueued
     +-- JobDefinitionError      invalid @job options or a clashing job name
     +-- PayloadError            a job hash from Redis that cannot be run
     |    +-- UnknownJobError    no job is registered under the payload's class name
     +-- RedisUnavailableError   Redis could not be reached or answered with an error
     +-- EmbeddedRedisError      no Redis server binary to start, or it failed to start
     +-- Retry                   raised by a job: retry after a given delay
     +-- Discard                 raised by a job: drop it without a dead-set entry

:class:`Shutdown` derives from ``BaseException`` on purpose: the worker raises
it inside a job that outlived the shutdown timeout, and an ordinary
``except Exception`` in user code must not swallow it.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "Discard",
    "EmbeddedRedisError",
    "JobArgumentError",
    "JobDefinitionError",
    "PayloadError",
    "RedisUnavailableError",
    "Retry",
    "RoadieError",
    "Shutdown",
    "UnknownJobError",
]


class RoadieError(Exception):
    """Base class of every exception roadie raises."""


class ConfigError(RoadieError):
    """A setting, configuration file or environment variable is invalid."""


class JobArgumentError(RoadieError, TypeError):
    """Arguments that do not bind to the job's signature or are not JSON-native."""


class JobDefinitionError(RoadieError):
    """A ``@job`` option is invalid, or two functions claim one job name."""


class PayloadError(RoadieError):
    """A job hash read from Redis cannot be decoded or run."""


class UnknownJobError(PayloadError):
    """No job is registered under the class name a payload carries."""


class RedisUnavailableError(RoadieError):
    """Redis could not be reached. The message names the URL without its password."""


class EmbeddedRedisError(RoadieError):
    """No Redis server binary was found, or the one found failed to start."""


class Retry(RoadieError):
    """Raise inside a job to retry it after ``in_`` seconds.

    The attempt counts against the job's retry limit like any failure, but the
    delay replaces the exponential backoff.
    """

    def __init__(self, in_: float | None = None, message: str = "") -> None:
        if in_ is not None and (not isinstance(in_, (int, float)) or in_ < 0):
            raise ValueError(f"Retry(in_={in_!r}): expected a number of seconds >= 0")
        self.in_ = in_
        super().__init__(message or (f"retry requested in {in_} s" if in_ is not None else "retry requested"))


class Discard(RoadieError):
    """Raise inside a job to drop it: no retry and no dead-set entry.

    Death handlers still run, as they do for a job that Sidekiq discards.
    """


class Shutdown(BaseException):
    """Raised inside a job that was still running when the shutdown timeout ran out.

    By then the job is back in its queue, so it must not be retried or acknowledged.
    """
