"""Read jobs that Rails enqueued through ActiveJob's Sidekiq adapter.

ActiveJob pushes a job hash whose ``class`` is its wrapper class, ``wrapped``
names the real job class, and ``args[0]`` is ActiveJob's own hash with
``job_class`` and ``arguments``. The arguments use ActiveJob's serializers;
these are decoded:

- hashes with ``_aj_symbol_keys``, ``_aj_hash_with_indifferent_access`` or
  ``_aj_ruby2_keywords`` markers become plain dicts (the marker is dropped),
  and a last hash marked ``_aj_ruby2_keywords`` becomes keyword arguments;
- symbols, times, dates, durations and big decimals (``_aj_serialized``)
  become their ``value``: a string, or a number for durations;
- a GlobalID (``_aj_globalid``) becomes its ``gid://app/Model/id`` string.

Other custom serializers are passed on as their hash.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WRAPPER_CLASSES", "decode_arguments", "unwrap"]

# Sidekiq 8 names the wrapper Sidekiq::ActiveJob::Wrapper; Rails' adapter
# for older Sidekiq versions names it as below.
WRAPPER_CLASSES = frozenset({
    "Sidekiq::ActiveJob::Wrapper",
    "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper",
})

_MARKERS = ("_aj_symbol_keys", "_aj_hash_with_indifferent_access", "_aj_ruby2_keywords")


def unwrap(job: dict[str, Any]) -> tuple[str, list[Any], dict[str, Any]] | None:
    """Return (job name, args, kwargs) for an ActiveJob payload, or None for any other job."""
    if job.get("class") not in WRAPPER_CLASSES:
        return None
    args = job.get("args")
    if not isinstance(args, list) or not args or not isinstance(args[0], dict):
        return None
    data = args[0]
    name = job.get("wrapped") or data.get("job_class")
    arguments = data.get("arguments")
    if not isinstance(name, str) or not isinstance(arguments, list):
        return None
    positional, keywords = decode_arguments(arguments)
    return name, positional, keywords


def decode_arguments(arguments: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Decode ActiveJob's serialized arguments into positional and keyword arguments."""
    keywords: dict[str, Any] = {}
    if arguments and isinstance(arguments[-1], dict) and "_aj_ruby2_keywords" in arguments[-1]:
        keywords = _decode(arguments[-1])
        arguments = arguments[:-1]
    return [_decode(argument) for argument in arguments], keywords


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "_aj_globalid" in value and len(value) == 1:
        return value["_aj_globalid"]
    if "_aj_serialized" in value and "value" in value:
        return _decode(value["value"])
    return {key: _decode(item) for key, item in value.items() if key not in _MARKERS}
