"""A job read from Redis: its exact bytes and decoded hash."""

from __future__ import annotations

from typing import Any, cast

from roadie import payload
from roadie._time import epoch_from_timestamp, now
from roadie.api._common import _decode_item, _RedisBound


class JobRecord:
    """One job read from Redis: the exact bytes and the decoded hash.

    ``raw`` is what Redis holds, used to delete the job. ``item`` is the
    decoded hash; for a payload that is not a JSON object it is
    ``{"args": [raw text]}`` and ``valid`` is False.
    """

    def __init__(self, raw: bytes | str, *, queue: str | None = None, owner: _RedisBound | None = None) -> None:
        self.raw = raw.encode("utf-8") if isinstance(raw, str) else raw
        self.item, self.valid = _decode_item(self.raw)
        self._queue_name = queue
        self._owner = owner

    # Values from the job hash.

    @property
    def jid(self) -> str | None:
        return self._str("jid")

    @property
    def class_name(self) -> str | None:
        """The ``class`` key: the job name workers look up."""
        return self._str("class")

    @property
    def job_class(self) -> str | None:
        """The name to show: ``display_class``, else ``wrapped`` (ActiveJob's real class), else ``class``."""
        return self._str("display_class") or self._str("wrapped") or self._str("class")

    @property
    def args(self) -> list[Any]:
        args = self.item.get("args")
        return args if isinstance(args, list) else []

    @property
    def kwargs(self) -> dict[str, Any]:
        kwargs = self.item.get("kwargs")
        return kwargs if isinstance(kwargs, dict) else {}

    @property
    def queue(self) -> str | None:
        """The queue the job was read from, else the payload's ``queue``."""
        return self._queue_name or self._str("queue")

    @property
    def tags(self) -> list[str]:
        tags = self.item.get("tags")
        return [tag for tag in tags if isinstance(tag, str)] if isinstance(tags, list) else []

    @property
    def retry_count(self) -> int | None:
        count = self.item.get("retry_count")
        return count if isinstance(count, int) and not isinstance(count, bool) else None

    @property
    def enqueued_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("enqueued_at"))

    @property
    def created_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("created_at"))

    @property
    def failed_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("failed_at"))

    @property
    def retried_at(self) -> float | None:
        return epoch_from_timestamp(self.item.get("retried_at"))

    @property
    def latency(self) -> float:
        """Seconds since the job was pushed (or created, without ``enqueued_at``); 0.0 if neither is known."""
        since = self.enqueued_at or self.created_at
        return max(0.0, now() - since) if since is not None else 0.0

    @property
    def error_class(self) -> str | None:
        return self._str("error_class")

    @property
    def error_message(self) -> str | None:
        return self._str("error_message")

    @property
    def error_backtrace(self) -> list[str] | None:
        """The backtrace lines, or None when the job has none or it cannot be decoded."""
        value = self.item.get("error_backtrace")
        if isinstance(value, list) and all(isinstance(line, str) for line in value):
            # Sidekiq 6.4 also read a plain JSON array here.
            return value
        if not isinstance(value, str):
            return None
        try:
            return payload.decode_backtrace(value)
        except ValueError:
            return None

    def get(self, key: str, default: Any = None) -> Any:
        """Return the job hash's ``key``, or ``default``."""
        return self.item.get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.item[key]

    # Actions.

    def delete(self) -> bool:
        """Remove this job from its queue (LREM of the exact bytes); False when it is no longer there."""
        owner = self._require_owner()
        queue = self.queue
        if queue is None:
            return False
        with owner._redis_errors():
            return bool(owner.connection.lrem(owner.keys.queue(queue), 1, self.raw))

    def _require_owner(self) -> _RedisBound:
        if self._owner is None:
            raise TypeError("this JobRecord was built without a queue or set to act on")
        return self._owner

    def _str(self, key: str) -> str | None:
        value = self.item.get(key)
        return value if isinstance(value, str) and value else None

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and cast(JobRecord, other).raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.job_class or '(invalid payload)'} jid={self.jid} queue={self.queue}>"
