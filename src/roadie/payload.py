"""The job hash: its JSON encoding, argument checks and error fields.

A job travels through Redis as one JSON object in Sidekiq's format. The keys
roadie writes are listed in :data:`STANDARD_KEYS`. Every other key is kept
unchanged, so options that Sidekiq Pro, Enterprise or a gem add survive a
round trip through roadie.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import math
import os
import re
import sys
import uuid
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from roadie.errors import JobArgumentError, PayloadError

__all__ = [
    "ERROR_MESSAGE_MAX_CHARS",
    "JOB_OPTIONS",
    "STANDARD_KEYS",
    "check_json_native",
    "decode",
    "decode_backtrace",
    "describe_error_class",
    "dumps",
    "encode_backtrace",
    "new_jid",
    "option_problem",
    "safe_error_message",
]

# The keys roadie reads or writes itself. Anything else in a job hash is
# carried along untouched.
STANDARD_KEYS = frozenset(
    {
        "class",
        "args",
        "kwargs",
        "jid",
        "queue",
        "retry",
        "created_at",
        "enqueued_at",
        "at",
        "retry_count",
        "failed_at",
        "retried_at",
        "error_class",
        "error_message",
        "error_backtrace",
        "backtrace",
        "retry_queue",
        "retry_for",
        "dead",
        "tags",
        "wrapped",
        "bid",
        "discarded_at",
    }
)

# Sidekiq truncates error messages to this many characters.
ERROR_MESSAGE_MAX_CHARS = 10_000

# Message Sidekiq records when an exception's message itself raises.
_UNPRINTABLE_ERROR_MESSAGE = "!!! ERROR MESSAGE THREW AN ERROR !!!"

# JSON integers beyond 64 bits are valid JSON, but orjson rejects them and
# many JSON readers lose precision on them.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1

_HINTS: dict[type, str] = {
    dt.datetime: "pass an ISO 8601 string (value.isoformat()) or epoch seconds",
    dt.date: "pass an ISO 8601 string (value.isoformat())",
    dt.time: "pass an ISO 8601 string (value.isoformat())",
    dt.timedelta: "pass a number of seconds (value.total_seconds())",
    decimal.Decimal: "pass a string (str(value)) to keep every digit",
    uuid.UUID: "pass a string (str(value))",
    bytes: "pass text, or base64-encode the bytes into a string",
    bytearray: "pass text, or base64-encode the bytes into a string",
    tuple: "pass a list",
    set: "pass a list",
    frozenset: "pass a list",
}


def new_jid() -> str:
    """Return a job id: 24 lowercase hex characters, as Sidekiq makes them."""
    return os.urandom(12).hex()


def dumps(value: Any, *, ruby_floats: bool | None = None) -> bytes:
    """Encode a job hash as compact JSON bytes, with floats written as Ruby's JSON writes them.

    Sidekiq finds a sorted-set entry by re-encoding the job in Ruby, for one
    when its dashboard reschedules a job, so the bytes must match Ruby's.
    orjson writes most floats as Ruby does, but not those below 1e-4 or from
    1e15 up: 1e-7 and 0.000015 where Ruby writes 1.0e-07 and 1.5e-05.
    ``ruby_floats`` is True when ``value`` contains such a float and False
    when not, as :func:`check_json_native` reports. With None, the output is
    searched for them and encoded again when one may be present.
    """
    if ruby_floats is None:
        data = orjson.dumps(value)
        if _MAYBE_RUBY_EXPONENT.search(data) is None:
            return data
        ruby_floats = True
    if ruby_floats:
        return orjson.dumps(_with_ruby_floats(value))
    return orjson.dumps(value)


def needs_ruby_form(value: float) -> bool:
    """Tell whether Ruby's JSON writes ``value`` in exponent form (nonzero, below 1e-4 or from 1e15 up)."""
    return value != 0 and math.isfinite(value) and not 1e-4 <= abs(value) < 1e15


# A value that orjson writes only for floats below 1e-4 or from 1e15 up: a
# number with an exponent, with four zeros after "0.", or with 16 digits
# before its decimal point, right after ":", "," or "[". The delimiter keeps
# hex jids such as "3e5a..." from matching. A string may still contain such
# text, which costs a second encoding and nothing more.
_MAYBE_RUBY_EXPONENT = re.compile(rb"[:,\[]-?(?:[0-9][0-9.]*e[-+]?[0-9]|0\.0000|[0-9]{16}\.)")


def _with_ruby_floats(value: Any) -> Any:
    """Return ``value`` with each float that Ruby writes in exponent form replaced by Ruby's text."""
    if type(value) is float:
        return orjson.Fragment(ruby_float_text(value)) if needs_ruby_form(value) else value
    if isinstance(value, list):
        return [_with_ruby_floats(item) for item in value]
    if isinstance(value, dict):
        return {key: _with_ruby_floats(item) for key, item in value.items()}
    return value


def ruby_float_text(value: float) -> str:
    """Return ``value`` in the exponent form of Ruby's ``Float#to_s``, such as ``1.0e-07`` or ``1.5e+15``.

    The digits are Python's shortest round-trip digits, which are Ruby's too.
    """
    sign, digit_tuple, exponent = decimal.Decimal(repr(value)).as_tuple()
    digits = list(digit_tuple)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exponent += 1
    assert isinstance(exponent, int)
    power = exponent + len(digits) - 1
    fraction = "".join(map(str, digits[1:])) or "0"
    return f"{'-' if sign else ''}{digits[0]}.{fraction}e{'-' if power < 0 else '+'}{abs(power):02d}"


def decode(raw: bytes | str) -> dict[str, Any]:
    """Decode a job hash read from Redis.

    Raises :class:`PayloadError` for invalid JSON, a value that is not an
    object, or a hash without a string ``class`` and a list ``args``.
    """
    try:
        job = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadError(f"job payload is not valid JSON: {exc}") from None
    if not isinstance(job, dict):
        raise PayloadError(f"job payload is JSON but not an object: got {type(job).__name__}")
    job_class = job.get("class")
    if not isinstance(job_class, str) or not job_class:
        raise PayloadError("job payload has no 'class' string naming the job")
    if not isinstance(job.get("args"), list):
        raise PayloadError(f"job payload for {job_class!r} has no 'args' list")
    kwargs = job.get("kwargs")
    if kwargs is not None and not isinstance(kwargs, dict):
        raise PayloadError(f"job payload for {job_class!r} has a 'kwargs' value that is not an object")
    return job


def check_json_native(value: Any, path: str) -> bool:
    """Raise :class:`JobArgumentError` unless ``value`` survives JSON unchanged.

    Allowed are str, int (64-bit), finite float, bool, None, and lists and
    dicts with string keys made of those. The error names the path of the
    first offending value, for example ``args[1]['when']``, and how to fix it.
    Returns True when ``value`` contains a float that Ruby writes in exponent
    form (see :func:`needs_ruby_form`), for :func:`dumps`.
    """
    if value is None or isinstance(value, (str, bool)):
        return False
    if isinstance(value, int):
        if not _INT_MIN <= value <= _INT_MAX:
            raise JobArgumentError(f"{path}: integer {value} does not fit in 64 bits; pass it as a string")
        return False
    # A float subclass such as numpy.float64 passes isinstance but orjson
    # cannot encode it, so only the float type itself is accepted.
    if type(value) is float:
        if not math.isfinite(value):
            raise JobArgumentError(f"{path}: {value} is not valid JSON; pass a finite number or null")
        return needs_ruby_form(value)
    found = False
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not _plainly_valid(item):
                found = check_json_native(item, f"{path}[{index}]") or found
        return found
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise JobArgumentError(
                    f"{path}: key {key!r} is not a string but {type(key).__name__}; "
                    "JSON object keys must be strings, so convert the key with str()"
                )
            if not _plainly_valid(item):
                found = check_json_native(item, f"{path}[{key!r}]") or found
        return found
    raise JobArgumentError(f"{path}: {_type_name(value)} is not JSON-serializable; {_hint_for(value)}")


def _plainly_valid(value: Any) -> bool:
    """Tell whether ``value`` is a str, bool, None or 64-bit int, so checking it needs no path string."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    return kind is int and _INT_MIN <= value <= _INT_MAX


def _type_name(value: Any) -> str:
    kind = type(value)
    # Standard types read best bare ("datetime", "Decimal"); others keep their module.
    if kind.__module__.partition(".")[0] in sys.stdlib_module_names:
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _hint_for(value: Any) -> str:
    for kind, hint in _HINTS.items():
        if isinstance(value, kind):
            return hint
    if isinstance(value, Mapping):
        return "pass a dict (dict(value))"
    if isinstance(value, float):
        return "pass a plain float (float(value))"
    return "pass JSON-native values (str, int, float, bool, None, list, dict), such as an id to load the object by"


def describe_error_class(exc: BaseException) -> str:
    """Return the name stored in ``error_class``: the bare name for builtins, else ``module.QualName``."""
    kind = type(exc)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def safe_error_message(exc: BaseException) -> str:
    """Return ``str(exc)`` as valid UTF-8 of at most 10,000 characters.

    An exception whose ``__str__`` raises yields Sidekiq's fixed placeholder
    instead, so the failure is still recorded.
    """
    try:
        message = str(exc)
    except Exception:
        return _UNPRINTABLE_ERROR_MESSAGE
    if not isinstance(message, str):
        return _UNPRINTABLE_ERROR_MESSAGE
    # Lone surrogates (from bytes decoded with surrogateescape, for example)
    # cannot be encoded as UTF-8; replace them so the JSON stays valid.
    message = message.encode("utf-8", "replace").decode("utf-8")
    return message[:ERROR_MESSAGE_MAX_CHARS]


def encode_backtrace(lines: list[str]) -> str:
    """Encode backtrace lines as Sidekiq 7.2.1+ does: zlib-compressed JSON array, strict base64."""
    return base64.b64encode(zlib.compress(orjson.dumps(lines))).decode("ascii")


def decode_backtrace(value: str) -> list[str]:
    """Decode an ``error_backtrace`` field, with or without the line breaks of MIME base64.

    Sidekiq before 7.2.1 wrapped the base64 text every 60 characters; later
    versions and roadie write it on one line. Raises ValueError when the value
    is not a compressed JSON array of strings.
    """
    compact = "".join(value.split())
    try:
        data = zlib.decompress(base64.b64decode(compact, validate=True))
        lines = orjson.loads(data)
    except (binascii.Error, zlib.error, orjson.JSONDecodeError) as exc:
        raise ValueError(f"error_backtrace is not base64 of a zlib-compressed JSON array: {exc}") from None
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise ValueError("error_backtrace does not decode to a list of strings")
    return lines


# Options a job may carry, with a check for each. Values are the messages'
# "expected ..." part.
_OPTION_EXPECTATIONS = {
    "queue": "a queue name (letters, digits, _ : . -)",
    "retry": "True, False or a number of retries >= 0",
    "backtrace": "True, False or a number of lines >= 0",
    "tags": "a list of strings",
    "retry_queue": "a queue name (letters, digits, _ : . -)",
    "retry_for": "a number of seconds > 0",
    "dead": "True or False",
}

JOB_OPTIONS = frozenset(_OPTION_EXPECTATIONS)


def option_problem(name: str, value: Any) -> str | None:
    """Return why ``value`` is invalid for job option ``name``, or None when it is valid."""
    from roadie.config import validate_queue_name

    valid: bool
    if name in ("queue", "retry_queue"):
        try:
            validate_queue_name(value)
            valid = True
        except ValueError:
            valid = False
    elif name in ("retry", "backtrace"):
        valid = isinstance(value, bool) or (isinstance(value, int) and value >= 0)
    elif name == "tags":
        valid = isinstance(value, (list, tuple)) and all(isinstance(tag, str) for tag in value)
    elif name == "retry_for":
        valid = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    elif name == "dead":
        valid = isinstance(value, bool)
    else:
        return f"unknown job option {name!r}; valid options are: {', '.join(sorted(JOB_OPTIONS))}"
    if valid:
        return None
    return f"invalid value for job option {name!r}: {value!r}; expected {_OPTION_EXPECTATIONS[name]}"
